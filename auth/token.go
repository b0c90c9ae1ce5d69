// Package auth authenticates the network transports: org API tokens and the
// HTTP middleware that turns a bearer token into the caller of every tool
// call.
//
// A token is "mg_" + prefix + "_" + secret. The prefix (12 random base32
// characters) is public: it names the token in lists, logs and the audit
// trail, and it is the key a request's token is looked up by. The secret (32
// random bytes, base64url) is shown once, when the token is created; the
// store keeps only its SHA-256. A fast hash is right here: the secret has 256
// bits of entropy, so there is nothing for a slow password hash to protect
// against, and a request pays one hash, not a key-stretching run.
//
// Verification compares hashes with crypto/subtle, and a request naming an
// unknown prefix still does a comparison against a dummy hash, so the time a
// request takes does not tell an attacker how much of a secret was right.
// While WatchRevocations runs, verified tokens are remembered in memory,
// keyed by the SHA-256 of the whole token (bounded in number, and for at
// most CacheTTL), so a request with a known token costs no query. The store
// pushes revocations: a revoked token stops working at once in the process
// that revoked it and within a second on every other replica (PostgreSQL
// LISTEN/NOTIFY; the embedded store polls for revocations by other
// processes on the same file). While that feed is down, every request asks
// the database again.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/modelgate/modelgate"
)

const (
	// Scheme starts every token, so a leaked one is easy to recognise (and
	// to find with a secret scanner).
	Scheme = "mg_"
	// PrefixLen is the length of the public prefix: 60 random bits, enough
	// that two tokens never collide in practice (the store refuses a
	// collision anyway).
	PrefixLen = 12
	// secretBytes is the entropy of the secret part.
	secretBytes = 32
)

var (
	prefixEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)
	secretEncoding = base64.RawURLEncoding
	// secretLen is the length of an encoded secret.
	secretLen = secretEncoding.EncodedLen(secretBytes)
)

// NewToken returns a new random token, its prefix and the hash to store. It
// returns an error only if the system's random source fails.
func NewToken() (token, prefix string, hash []byte, err error) {
	buf := make([]byte, 8+secretBytes)
	if _, err := rand.Read(buf); err != nil {
		return "", "", nil, err
	}
	prefix = prefixEncoding.EncodeToString(buf[:8])[:PrefixLen]
	secret := secretEncoding.EncodeToString(buf[8:])
	return Scheme + prefix + "_" + secret, prefix, Hash(secret), nil
}

// Parse splits a token into its prefix and secret. It returns an
// EUnauthorized error for anything that is not a well-formed token; the
// error never repeats the token.
func Parse(token string) (prefix, secret string, err error) {
	rest, ok := strings.CutPrefix(token, Scheme)
	if !ok || len(rest) != PrefixLen+1+secretLen || rest[PrefixLen] != '_' {
		return "", "", errMalformed
	}
	prefix, secret = rest[:PrefixLen], rest[PrefixLen+1:]
	if !validChars(prefix, &prefixChars) || !validChars(secret, &secretChars) {
		return "", "", errMalformed
	}
	return prefix, secret, nil
}

// ValidPrefix reports whether p has the form of a token prefix (for
// commands that take one, such as token revoke).
func ValidPrefix(p string) bool {
	return len(p) == PrefixLen && validChars(p, &prefixChars)
}

// charSet marks the bytes of an alphabet: every request checks its token's
// characters, so the check is a table lookup per byte.
type charSet [256]bool

func newCharSet(alphabet string) (c charSet) {
	for i := 0; i < len(alphabet); i++ {
		c[alphabet[i]] = true
	}
	return c
}

var (
	prefixChars = newCharSet("abcdefghijklmnopqrstuvwxyz234567")
	secretChars = newCharSet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
)

func validChars(s string, set *charSet) bool {
	for i := 0; i < len(s); i++ {
		if !set[s[i]] {
			return false
		}
	}
	return true
}

// Hash returns the SHA-256 of a token's secret part: what the store keeps.
func Hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// dummyHash is compared against when a token's prefix is unknown, so that
// path costs the same as a wrong secret.
var dummyHash = Hash("modelgate-dummy-secret-for-unknown-prefixes")

// Verify reports whether secret matches the stored hash, in time that does
// not depend on where they differ. A nil want (unknown prefix) still costs
// one comparison and returns false.
func Verify(secret string, want []byte) bool {
	got := Hash(secret)
	if len(want) != len(got) {
		subtle.ConstantTimeCompare(got, dummyHash)
		return false
	}
	return subtle.ConstantTimeCompare(got, want) == 1
}

var (
	errMissing   = modelgate.Errorf(modelgate.EUnauthorized, "missing bearer token (send the header Authorization: Bearer TOKEN)")
	errMalformed = modelgate.Errorf(modelgate.EUnauthorized, "malformed token")
	errInvalid   = modelgate.Errorf(modelgate.EUnauthorized, "invalid or revoked token")

	errNoRevocations = errors.New("auth: the token store reports no revocations; tokens are not cached")
	errCacheDisabled = errors.New("auth: the token cache is turned off")
)
