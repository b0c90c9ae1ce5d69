package storecore

import (
	"github.com/modelgate/modelgate"
)

// NewToken validates t and hash and returns the token CreateToken inserts:
// t with CreatedAt rounded to microseconds, or now if it is zero. It returns
// EInvalidArgument for a token without org or prefix or an empty hash, and
// for an org name outside modelgate.OrgGrammar (the store is the last
// boundary every way of creating a token passes).
func NewToken(t modelgate.Token, hash []byte) (modelgate.Token, error) {
	if t.Org == "" || t.Prefix == "" || len(hash) == 0 {
		return modelgate.Token{}, modelgate.Errorf(modelgate.EInvalidArgument, "a token needs an org, a prefix and a hash")
	}
	if err := modelgate.ValidateOrg(t.Org); err != nil {
		return modelgate.Token{}, err
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = Now()
	} else {
		t.CreatedAt = Micro(t.CreatedAt)
	}
	return t, nil
}

// TokenNotFound returns the ENotFound error for a token prefix that names
// no token.
func TokenNotFound(prefix string) error {
	return modelgate.Errorf(modelgate.ENotFound, "token %s not found", prefix)
}

// TokenPrefixTaken returns the ENameConflict error for a token prefix that
// a token (of any org) already has.
func TokenPrefixTaken(prefix string) error {
	return modelgate.Errorf(modelgate.ENameConflict, "a token with prefix %s already exists", prefix)
}
