package storecore

import (
	"sync"

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

// Revocations fans the token revocations a store makes out to the
// ListenTokenRevocations calls of the same store, synchronously, so that a
// revocation is seen in this process before RevokeToken returns. The zero
// value is ready to use; it is safe for concurrent use.
type Revocations struct {
	mu   sync.Mutex
	subs map[*func(string)]struct{}
}

// Subscribe calls revoked for every later Revoked until cancel is called.
func (r *Revocations) Subscribe(revoked func(prefix string)) (cancel func()) {
	key := &revoked
	r.mu.Lock()
	if r.subs == nil {
		r.subs = map[*func(string)]struct{}{}
	}
	r.subs[key] = struct{}{}
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		delete(r.subs, key)
		r.mu.Unlock()
	}
}

// Revoked reports the revocation of the token with prefix to every
// subscriber and returns when each has been called.
func (r *Revocations) Revoked(prefix string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for f := range r.subs {
		(*f)(prefix)
	}
}
