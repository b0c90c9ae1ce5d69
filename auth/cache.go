package auth

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"

	"github.com/modelgate/modelgate"
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

type cacheEntry struct {
	caller  modelgate.Caller
	expires int64 // UnixNano
}

// tokenCache remembers the callers of verified tokens while a revocation
// feed is up. Every change that may make an entry wrong (a revocation, the
// feed going down or coming back) bumps gen; a lookup that read the store
// under an older gen does not insert what it read, so a revocation that
// lands between a store read and its insertion is never lost.
type tokenCache struct {
	ttl  time.Duration
	size int

	mu      sync.RWMutex
	live    bool
	gen     uint64
	entries map[cacheKey]cacheEntry
}

func newTokenCache(ttl time.Duration, size int) *tokenCache {
	return &tokenCache{ttl: ttl, size: size, entries: map[cacheKey]cacheEntry{}}
}

// get returns the cached caller of the token, and the generation a miss
// must pass to put.
func (c *tokenCache) get(key cacheKey, now time.Time) (modelgate.Caller, bool, uint64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.live {
		return modelgate.Caller{}, false, c.gen
	}
	e, ok := c.entries[key]
	if !ok || now.UnixNano() >= e.expires {
		return modelgate.Caller{}, false, c.gen
	}
	return e.caller, true, c.gen
}

// put remembers caller for the token if nothing was invalidated since gen
// was read and the feed is up.
func (c *tokenCache) put(key cacheKey, caller modelgate.Caller, gen uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live || gen != c.gen {
		return
	}
	if len(c.entries) >= c.size {
		for k := range c.entries { // evict one entry, any
			delete(c.entries, k)
			break
		}
	}
	c.entries[key] = cacheEntry{caller: caller, expires: now.Add(c.ttl).UnixNano()}
}

// setLive turns the cache on or off; either way it forgets everything.
func (c *tokenCache) setLive(live bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.live = live
	c.gen++
	clear(c.entries)
}

// revoke forgets the token with prefix, or every token for "".
func (c *tokenCache) revoke(prefix string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if prefix == "" {
		clear(c.entries)
		return
	}
	for k, e := range c.entries {
		if e.caller.TokenPrefix == prefix {
			delete(c.entries, k)
		}
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
	defer a.cache.setLive(false)
	return l.ListenTokenRevocations(ctx, a.cache.setLive, a.cache.revoke)
}
