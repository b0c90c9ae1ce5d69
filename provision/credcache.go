package provision

import (
	"context"
	"time"

	"github.com/modelgate/modelgate/internal/feedcache"
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
// changes is up (see feedcache for why a change racing a lookup is never
// lost). The cached slices are shared by every caller and never written.
type credCache struct {
	names *feedcache.Cache[string, []string]
	now   func() time.Time
}

func newCredCache(ttl time.Duration, size int, now func() time.Time) credCache {
	return credCache{names: feedcache.New[string, []string](ttl, size), now: now}
}

// changed forgets the names of org, or of every org for "".
func (c credCache) changed(org string) {
	if org == "" {
		c.names.ForgetAll()
		return
	}
	c.names.Forget(org)
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
	defer s.creds.names.SetLive(false)
	return s.store.ListenOrgSecrets(ctx, s.creds.names.SetLive, s.creds.changed)
}

// discoveryCredentials returns the org's usable credential names for
// discovery: the cached ones while WatchOrgSecrets keeps the cache live,
// else (and on a miss) those OrgCredentials reads. The result must not be
// written.
func (s *Service) discoveryCredentials(ctx context.Context, org string) ([]string, error) {
	now := s.creds.now()
	names, ok, gen := s.creds.names.Get(org, now)
	if ok {
		return names, nil
	}
	names, err := s.OrgCredentials(org).OrgSecretNames(ctx)
	if err != nil {
		return nil, err
	}
	s.creds.names.Put(org, names, gen, now)
	return names, nil
}
