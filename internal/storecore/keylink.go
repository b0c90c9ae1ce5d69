package storecore

import (
	"strings"

	"github.com/modelgate/modelgate"
)

// NewKeyLink validates l and returns the link CreateKeyLink inserts, with
// its times rounded to microseconds (CreatedAt now if zero). It returns
// EInvalidArgument for a link without org, id, names, expiry or hash.
func NewKeyLink(l modelgate.KeyLink, hash []byte) (modelgate.KeyLink, error) {
	if err := CheckOrg(l.Org); err != nil {
		return modelgate.KeyLink{}, err
	}
	if l.ID == "" || len(l.Names) == 0 || len(hash) == 0 || l.ExpiresAt.IsZero() {
		return modelgate.KeyLink{}, modelgate.Errorf(modelgate.EInvalidArgument, "a key link needs an org, an id, names, an expiry and a hash")
	}
	for _, n := range l.Names {
		if n == "" || strings.Contains(n, ",") {
			return modelgate.KeyLink{}, modelgate.Errorf(modelgate.EInvalidArgument, "key link names must be non-empty and hold no comma")
		}
	}
	if l.CreatedAt.IsZero() {
		l.CreatedAt = Now()
	}
	l.CreatedAt, l.ExpiresAt = Micro(l.CreatedAt), Micro(l.ExpiresAt)
	l.UsedAt, l.UsedName = nil, ""
	return l, nil
}

// JoinNames and SplitNames store a key link's names in one text column.
func JoinNames(names []string) string { return strings.Join(names, ",") }

// SplitNames is the inverse of JoinNames.
func SplitNames(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// KeyLinkNotFound returns the ENotFound error for an unknown link id.
func KeyLinkNotFound() error {
	return modelgate.Errorf(modelgate.ENotFound, "no such key link")
}

// KeyLinkIDTaken returns the ENameConflict error for a link id in use.
func KeyLinkIDTaken() error {
	return modelgate.Errorf(modelgate.ENameConflict, "a key link with that id already exists")
}
