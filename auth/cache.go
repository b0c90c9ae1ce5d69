package auth

import (
	"context"
	"crypto/sha256"
	"time"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/internal/feedcache"
)

// DefaultCacheTTL is how long a verified token is remembered at most. It is
// a safety net, not what makes revocation work: revocations are pushed (see
// WatchRevocations), and the cache is used only while that feed is up.
const DefaultCacheTTL = 10 * time.Second

// DefaultCacheSize bounds the number of remembered tokens.
const DefaultCacheSize = 4096

// cacheKey is the SHA-256 of the whole token: a hit proves that the request
// carries exactly a token verified before, and the map holds no secret.
type cacheKey [sha256.Size]byte

// tokenCache remembers the callers of verified tokens while a revocation
// feed is up (see feedcache for why a revocation racing a lookup is never
// lost).
type tokenCache = feedcache.Cache[cacheKey, modelgate.Caller]

func newTokenCache(ttl time.Duration, size int) *tokenCache {
	return feedcache.New[cacheKey, modelgate.Caller](ttl, size)
}

// revoke forgets the token with prefix, or every token for "".
func revoke(c *tokenCache) func(prefix string) {
	return func(prefix string) {
		if prefix == "" {
			c.ForgetAll()
			return
		}
		c.ForgetFunc(func(_ cacheKey, caller modelgate.Caller) bool { return caller.TokenPrefix == prefix })
	}
}

// WatchRevocations lets the authenticator cache verified tokens for as long
// as it runs: it listens to the store's revocations (the store must
// implement modelgate.TokenRevocationListener, as both stores do) and
// forgets a token as soon as the store reports it revoked. Without it, or
// while the store reports its feed down, every request looks its token up
// in the store. It returns when ctx ends (nil), or an error at once if the
// store reports no revocations or caching is disabled (a negative CacheTTL).
func (a *Authenticator) WatchRevocations(ctx context.Context) error {
	l, ok := a.store.(modelgate.TokenRevocationListener)
	if !ok {
		return errNoRevocations
	}
	if a.cache == nil {
		return errCacheDisabled
	}
	defer a.cache.SetLive(false)
	return l.ListenTokenRevocations(ctx, a.cache.SetLive, revoke(a.cache))
}
