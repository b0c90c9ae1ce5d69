// Package feedcache is a small in-memory cache whose correctness comes from
// a change feed, not from its TTL: it is used only while the feed that
// reports changes is up, and every reported change, and the feed going down
// or coming back, makes it forget what may be wrong.
//
// The one subtle rule is the generation: a caller that misses reads the
// store and then puts what it read. If a change is reported between that
// read and the put, the value read may already be stale, so Get hands out
// the generation, every forgetting bumps it, and Put of a value read under
// an older generation is dropped. A change is therefore never lost to a
// lookup that raced it.
//
// auth caches verified tokens with it (the feed: token revocations) and
// provision caches each org's usable credential names for discovery (the
// feed: changes of org secrets).
package feedcache

import (
	"sync"
	"time"
)

// Cache maps K to V for at most ttl, holding at most size entries. The zero
// value is not usable; use New. Values are shared by every caller: a V that
// is a slice or a map must not be written after Put.
type Cache[K comparable, V any] struct {
	ttl  time.Duration
	size int

	mu      sync.RWMutex
	live    bool
	gen     uint64
	entries map[K]entry[V]
}

type entry[V any] struct {
	v       V
	expires int64 // UnixNano
}

// New returns a cache that is not live yet (see SetLive). size is at least 1.
func New[K comparable, V any](ttl time.Duration, size int) *Cache[K, V] {
	return &Cache[K, V]{ttl: ttl, size: max(size, 1), entries: map[K]entry[V]{}}
}

// Get returns the value of key if the cache is live and holds an unexpired
// one, and in any case the generation a miss must pass to Put.
func (c *Cache[K, V]) Get(key K, now time.Time) (V, bool, uint64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var zero V
	if !c.live {
		return zero, false, c.gen
	}
	e, ok := c.entries[key]
	if !ok || now.UnixNano() >= e.expires {
		return zero, false, c.gen
	}
	return e.v, true, c.gen
}

// Put remembers v for key, unless the cache is not live or anything was
// forgotten since gen was handed out by Get. When full, it evicts one entry
// (any) to make room for a new key.
func (c *Cache[K, V]) Put(key K, v V, gen uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live || gen != c.gen {
		return
	}
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.size {
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[key] = entry[V]{v: v, expires: now.Add(c.ttl).UnixNano()}
}

// SetLive turns the cache on (the feed is up) or off (it is down); either
// way it forgets everything, since changes may have gone unreported.
func (c *Cache[K, V]) SetLive(live bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.live = live
	c.gen++
	clear(c.entries)
}

// Forget drops key.
func (c *Cache[K, V]) Forget(key K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.entries, key)
}

// ForgetAll drops every entry.
func (c *Cache[K, V]) ForgetAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	clear(c.entries)
}

// ForgetFunc drops every entry for which drop returns true.
func (c *Cache[K, V]) ForgetFunc(drop func(K, V) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for k, e := range c.entries {
		if drop(k, e.v) {
			delete(c.entries, k)
		}
	}
}

// Len returns the number of entries held, expired ones included.
func (c *Cache[K, V]) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
