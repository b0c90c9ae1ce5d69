package provision

import (
	"context"
	"sync"
	"time"
)

// Bounds of the cache of usable credential names that discovery keeps
// while WatchOrgSecrets runs.
const (
	// credCacheTTL is how long an org's names are remembered at most. It
	// is a safety net, not what keeps discovery right: changes are pushed
	// by the store, and the cache is used only while that feed is up.
	credCacheTTL = 10 * time.Second
	// credCacheSize bounds the number of orgs remembered.
	credCacheSize = 4096
)

// credCache remembers, for discovery only, each org's usable credential
// names (what OrgCredentials yields) while the store's feed of org secret
// changes is up. Every change that may make an entry wrong (a change of
// the org's secrets, the feed going down or coming back) bumps gen; a
// lookup that read the store under an older gen does not insert what it
// read, so a change that lands between a store read and its insertion is
// never lost. It is the design of auth's token cache.
//
// The cached slices are shared by every caller and never written.
type credCache struct {
	ttl  time.Duration
	size int
	now  func() time.Time

	mu      sync.RWMutex
	live    bool
	gen     uint64
	entries map[string]credEntry
}

type credEntry struct {
	names   []string
	expires int64 // UnixNano
}

func newCredCache() *credCache {
	return &credCache{ttl: credCacheTTL, size: credCacheSize, now: time.Now, entries: map[string]credEntry{}}
}

// get returns the cached names of org, and the generation a miss must pass
// to put.
func (c *credCache) get(org string, now time.Time) ([]string, bool, uint64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.live {
		return nil, false, c.gen
	}
	e, ok := c.entries[org]
	if !ok || now.UnixNano() >= e.expires {
		return nil, false, c.gen
	}
	return e.names, true, c.gen
}

// put remembers names for org if nothing was invalidated since gen was
// read and the feed is up. names must not be written afterwards.
func (c *credCache) put(org string, names []string, gen uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live || gen != c.gen {
		return
	}
	if _, ok := c.entries[org]; !ok && len(c.entries) >= c.size {
		for k := range c.entries { // evict one entry, any
			delete(c.entries, k)
			break
		}
	}
	c.entries[org] = credEntry{names: names, expires: now.Add(c.ttl).UnixNano()}
}

// setLive turns the cache on or off; either way it forgets everything.
func (c *credCache) setLive(live bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.live = live
	c.gen++
	clear(c.entries)
}

// changed forgets the names of org, or of every org for "".
func (c *credCache) changed(org string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if org == "" {
		clear(c.entries)
		return
	}
	delete(c.entries, org)
}

// WatchOrgSecrets lets discovery (Offered, OfferedJSON) remember each
// org's usable credential names for as long as it runs, so that
// list_offered_models reads no secret while they have not changed: it
// listens to the store's changes of org secrets
// (modelgate.SecretStore.ListenOrgSecrets) and forgets an org's names as
// soon as the store reports them changed. A change made through this
// process's store is seen by the very next call; one made by another
// replica or process on the same database within the store's bound
// (milliseconds on PostgreSQL, about 250 ms on the embedded store). Without
// it, or while the store reports its feed down, every discovery call reads
// the org's secrets. The gate and the provisioner's backstop never use
// what it remembers: they read the store on every call, so a stale answer
// of discovery can never let a workspace through. Run one at a time; it
// returns when ctx ends (nil), or the store's error.
func (s *Service) WatchOrgSecrets(ctx context.Context) error {
	defer s.creds.setLive(false)
	return s.store.ListenOrgSecrets(ctx, s.creds.setLive, s.creds.changed)
}

// discoveryCredentials returns the org's usable credential names for
// discovery: the cached ones while WatchOrgSecrets keeps the cache live,
// else (and on a miss) those OrgCredentials reads. The result must not be
// written.
func (s *Service) discoveryCredentials(ctx context.Context, org string) ([]string, error) {
	now := s.creds.now()
	names, ok, gen := s.creds.get(org, now)
	if ok {
		return names, nil
	}
	names, err := s.OrgCredentials(org).OrgSecretNames(ctx)
	if err != nil {
		return nil, err
	}
	s.creds.put(org, names, gen, now)
	return names, nil
}
