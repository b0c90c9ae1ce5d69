package provision_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/gate"
	"github.com/modelgate/modelgate/postgres"
	"github.com/modelgate/modelgate/postgres/pgtest"
	"github.com/modelgate/modelgate/provision"
	"github.com/modelgate/modelgate/registry"
	"github.com/modelgate/modelgate/secrets"
	"github.com/modelgate/modelgate/sqlite"
)

// discoveryCaller returns a caller of an org of its own: PostgreSQL stores
// of every schema share the channel of org secret changes, and another
// test's change of "acme" must not empty this test's cache.
func discoveryCaller() modelgate.Caller {
	return modelgate.Caller{Org: "disc-" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16]}
}

// spyStore passes a store on, counts its reads of org secrets, can run a
// function inside the next one (after the rows were read), and closes upped
// at the first up(true) of the org secret feed.
type spyStore struct {
	modelgate.Store
	reads atomic.Int64

	mu     sync.Mutex
	during func()
	upped  chan struct{}
	once   sync.Once
}

func newSpy(s modelgate.Store) *spyStore { return &spyStore{Store: s, upped: make(chan struct{})} }

func (s *spyStore) OrgSecrets(ctx context.Context, org string) ([]modelgate.SealedSecret, error) {
	secrets, err := s.Store.OrgSecrets(ctx, org)
	s.reads.Add(1)
	s.mu.Lock()
	during := s.during
	s.during = nil
	s.mu.Unlock()
	if during != nil {
		during()
	}
	return secrets, err
}

func (s *spyStore) ListenOrgSecrets(ctx context.Context, up func(bool), changed func(string)) error {
	return s.Store.ListenOrgSecrets(ctx, func(u bool) {
		up(u)
		if u {
			s.once.Do(func() { close(s.upped) })
		}
	}, changed)
}

// fakeFeed is a spyStore whose feed of org secret changes the test drives:
// it reports nothing the store does.
type fakeFeed struct {
	*spyStore
	ready   chan struct{} // closed when ListenOrgSecrets was called
	up      func(bool)
	changed func(string)
}

func newFakeFeed(s modelgate.Store) *fakeFeed {
	return &fakeFeed{spyStore: newSpy(s), ready: make(chan struct{})}
}

func (f *fakeFeed) ListenOrgSecrets(ctx context.Context, up func(bool), changed func(string)) error {
	f.up, f.changed = up, changed
	close(f.ready)
	<-ctx.Done()
	return nil
}

// watch runs svc.WatchOrgSecrets until the test ends.
func watch(t *testing.T, svc *provision.Service) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.WatchOrgSecrets(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("WatchOrgSecrets: %v", err)
		}
	})
}

// waitClosed waits for ch or fails the test after a generous deadline.
func waitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not happen within 10s", what)
	}
}

// serviceWithKeys returns a service over store that seals with keys.
func serviceWithKeys(store modelgate.Store, keys *secrets.Keyring) *provision.Service {
	log := zerolog.Nop()
	return provision.New(store, gate.New(registry.Default(), log), keys, log)
}

func newKeys(t *testing.T) *secrets.Keyring {
	t.Helper()
	keys, err := secrets.NewKeyring(secrets.GenerateKey())
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// replicas returns two stores on one database of the kind: two processes
// on one SQLite file, or two replicas on one PostgreSQL schema.
func replicas(t *testing.T, kind string) (a, b modelgate.Store) {
	t.Helper()
	if kind == "postgres" {
		schema := pgtest.Schema(t)
		return pgtest.Open(t, postgres.Options{Schema: schema}), pgtest.Open(t, postgres.Options{Schema: schema})
	}
	path := filepath.Join(t.TempDir(), "m.db")
	var dbs [2]modelgate.Store
	for i := range dbs {
		db, err := sqlite.Open(t.Context(), path, sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	return dbs[0], dbs[1]
}

// anthropicAvailable returns credential_available of claude-code's
// anthropic-api arm, as list_offered_models answers it (OfferedJSON).
func anthropicAvailable(t *testing.T, svc *provision.Service, caller modelgate.Caller) bool {
	t.Helper()
	enc, err := svc.OfferedJSON(t.Context(), caller, "claude-code", registry.Filter{Provider: "anthropic-api"})
	if err != nil {
		t.Fatalf("OfferedJSON: %v", err)
	}
	var offer provision.Offer
	if err := json.Unmarshal([]byte(enc), &offer); err != nil || len(offer.Arms) != 1 {
		t.Fatalf("OfferedJSON = %s, %v; want the anthropic-api arm", enc, err)
	}
	return offer.Arms[0].CredentialAvailable
}

// storedKey returns the stored ANTHROPIC_API_KEY of the caller's org.
func storedKey(t *testing.T, s modelgate.Store, caller modelgate.Caller) modelgate.SealedSecret {
	t.Helper()
	sealed, err := s.OrgSecrets(t.Context(), caller.Org)
	if err != nil || len(sealed) != 1 {
		t.Fatalf("OrgSecrets = %v, %v; want the one key", sealed, err)
	}
	return sealed[0]
}

// TestOffered_AChangeThroughThisProcessShowsInTheVeryNextAnswer: with the
// cache live, a key set, rejected by a check, accepted again or deleted
// through this process shows in the very next list_offered_models, and an
// unchanged org is answered without reading its secrets.
func TestOffered_AChangeThroughThisProcessShowsInTheVeryNextAnswer(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b testBundle) {
		ctx := t.Context()
		caller := discoveryCaller()
		spy := newSpy(b.store)
		svc := serviceWithKeys(spy, newKeys(t))
		watch(t, svc)
		waitClosed(t, spy.upped, "the org secret feed coming up")

		if anthropicAvailable(t, svc, caller) {
			t.Fatal("a new org has a credential")
		}
		reads := spy.reads.Load()
		if anthropicAvailable(t, svc, caller) {
			t.Fatal("a new org has a credential, the second time")
		}
		if got := spy.reads.Load(); got != reads {
			t.Fatalf("the second answer read the org's secrets (%d reads, want %d): the cache is not used", got, reads)
		}

		if _, err := svc.SetOrgSecret(ctx, caller, "ANTHROPIC_API_KEY", canary); err != nil {
			t.Fatal(err)
		}
		if !anthropicAvailable(t, svc, caller) {
			t.Error("after set_org_secret: the next answer has no credential")
		}
		// The provisioner's backstop records its verdicts through the store.
		rejected := storedKey(t, b.store, caller)
		rejected.CheckedAt, rejected.RejectedAt = time.Now(), time.Now()
		if ok, err := spy.RecordSecretCheck(ctx, caller.Org, "", rejected); err != nil || !ok {
			t.Fatalf("RecordSecretCheck = %v, %v", ok, err)
		}
		if anthropicAvailable(t, svc, caller) {
			t.Error("after the key was rejected: the next answer still has a credential")
		}
		accepted := rejected
		accepted.RejectedAt = time.Time{}
		if ok, err := spy.RecordSecretCheck(ctx, caller.Org, "", accepted); err != nil || !ok {
			t.Fatalf("RecordSecretCheck = %v, %v", ok, err)
		}
		if !anthropicAvailable(t, svc, caller) {
			t.Error("after the key was accepted again: the next answer has no credential")
		}
		if _, err := svc.DeleteOrgSecret(ctx, caller, "ANTHROPIC_API_KEY"); err != nil {
			t.Fatal(err)
		}
		if anthropicAvailable(t, svc, caller) {
			t.Error("after delete_org_secret: the next answer still has a credential")
		}
	})
}

// TestOffered_AnotherReplicasChangeShowsWithinTheBound: a change made by
// another replica (another process on the SQLite file, another server on
// the PostgreSQL schema) reaches this one's cached answers, polled with a
// generous deadline (the bound is a second).
func TestOffered_AnotherReplicasChangeShowsWithinTheBound(t *testing.T) {
	t.Parallel()
	for _, kind := range stores {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			caller := discoveryCaller()
			sa, sb := replicas(t, kind)
			keys := newKeys(t)
			svcA := serviceWithKeys(sa, keys)
			spy := newSpy(sb)
			svcB := serviceWithKeys(spy, keys)
			watch(t, svcB)
			waitClosed(t, spy.upped, "the org secret feed coming up")
			anthropicAvailable(t, svcB, caller)
			reads := spy.reads.Load()
			if anthropicAvailable(t, svcB, caller) || spy.reads.Load() != reads {
				t.Fatal("replica B does not answer an unchanged org from its cache")
			}

			eventually := func(what string, want bool) {
				t.Helper()
				start := time.Now()
				for anthropicAvailable(t, svcB, caller) != want {
					if time.Since(start) > 10*time.Second {
						t.Fatalf("%s on replica A: replica B still answers credential_available=%v after 10s", what, !want)
					}
					time.Sleep(5 * time.Millisecond) // polling a deadline, not synchronising
				}
				t.Logf("%s: seen after %s", what, time.Since(start).Round(time.Millisecond))
			}
			if _, err := svcA.SetOrgSecret(ctx, caller, "ANTHROPIC_API_KEY", canary); err != nil {
				t.Fatal(err)
			}
			eventually("set", true)
			rejected := storedKey(t, sa, caller)
			rejected.CheckedAt, rejected.RejectedAt = time.Now(), time.Now()
			if ok, err := sa.RecordSecretCheck(ctx, caller.Org, "", rejected); err != nil || !ok {
				t.Fatalf("RecordSecretCheck = %v, %v", ok, err)
			}
			eventually("rejected", false)
			if _, err := svcA.SetOrgSecret(ctx, caller, "ANTHROPIC_API_KEY", canary+"-2"); err != nil {
				t.Fatal(err)
			}
			eventually("set again", true)
			if _, err := svcA.DeleteOrgSecret(ctx, caller, "ANTHROPIC_API_KEY"); err != nil {
				t.Fatal(err)
			}
			eventually("deleted", false)
		})
	}
}

// TestProvision_TheGateNeverAnswersFromDiscoverysCache: discovery may show
// a key another replica deleted a moment ago (here, a feed that reports
// nothing keeps it shown), but the gate reads the store and refuses.
func TestProvision_TheGateNeverAnswersFromDiscoverysCache(t *testing.T) {
	t.Parallel()
	for _, kind := range stores {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			caller := discoveryCaller()
			sa, sb := replicas(t, kind)
			keys := newKeys(t)
			svcA := serviceWithKeys(sa, keys)
			feed := newFakeFeed(sb)
			svcB := serviceWithKeys(feed, keys)
			watch(t, svcB)
			waitClosed(t, feed.ready, "WatchOrgSecrets listening")
			feed.up(true)

			if _, err := svcA.SetOrgSecret(ctx, caller, "ANTHROPIC_API_KEY", canary); err != nil {
				t.Fatal(err)
			}
			if !anthropicAvailable(t, svcB, caller) {
				t.Fatal("replica B does not see the key")
			}
			if _, err := svcA.DeleteOrgSecret(ctx, caller, "ANTHROPIC_API_KEY"); err != nil {
				t.Fatal(err)
			}
			if !anthropicAvailable(t, svcB, caller) {
				t.Fatal("discovery on replica B read the store: this test needs its answer cached")
			}
			_, err := svcB.Provision(ctx, caller, provision.Request{Name: "w", Runtime: "claude-code", Model: "claude-sonnet-4-6"})
			if modelgate.ErrorCode(err) != modelgate.EMissingCredential {
				t.Fatalf("Provision on replica B after the key was deleted = %v, want MISSING_BYOK_CREDENTIAL", err)
			}
		})
	}
}

// TestOffered_UsesTheCacheOnlyWhileTheFeedIsUp drives the feed by hand and
// counts the reads of the org's secrets.
func TestOffered_UsesTheCacheOnlyWhileTheFeedIsUp(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite")
	caller := discoveryCaller()
	feed := newFakeFeed(b.store)
	svc := serviceWithKeys(feed, newKeys(t))
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	var clock sync.Mutex
	provision.SetCredCache(svc, 10*time.Second, 100, func() time.Time { clock.Lock(); defer clock.Unlock(); return now })
	ask := func(n int) {
		t.Helper()
		for range n {
			anthropicAvailable(t, svc, caller)
		}
	}
	reads := func(when string, want int64) {
		t.Helper()
		if got := feed.reads.Swap(0); got != want {
			t.Fatalf("%s: %d reads of the org's secrets, want %d", when, got, want)
		}
	}

	ask(2)
	reads("not watching: every call reads", 2)
	watch(t, svc)
	waitClosed(t, feed.ready, "WatchOrgSecrets listening")
	ask(2)
	reads("watching, the feed not up yet: every call reads", 2)

	feed.up(true)
	ask(3)
	reads("the feed up: only the first call reads", 1)
	if _, err := svc.OfferedJSON(t.Context(), caller, "claude-code", registry.Filter{Billing: "platform"}); err != nil {
		t.Fatal(err)
	}
	reads("the platform arm alone needs no credentials", 0)

	feed.changed("another-org")
	ask(2)
	reads("another org changed: still cached", 0)
	feed.changed(caller.Org)
	ask(2)
	reads("the org changed: read once, then cached", 1)
	feed.changed("")
	ask(2)
	reads("every org changed: read once, then cached", 1)

	clock.Lock()
	now = now.Add(10 * time.Second)
	clock.Unlock()
	ask(2)
	reads("after the TTL: read once, then cached", 1)

	feed.up(false)
	ask(2)
	reads("the feed down: every call reads", 2)
	feed.up(true)
	ask(2)
	reads("the feed back: emptied, then cached", 1)
}

// TestOffered_AChangeDuringALookupIsNotCachedAway: a change reported
// after the store was read and before the answer was remembered makes the
// next call read again.
func TestOffered_AChangeDuringALookupIsNotCachedAway(t *testing.T) {
	t.Parallel()
	for _, all := range []bool{false, true} {
		b := setup(t, "sqlite")
		ctx := t.Context()
		caller := discoveryCaller()
		keys := newKeys(t)
		feed := newFakeFeed(b.store)
		svc := serviceWithKeys(feed, keys)
		watch(t, svc)
		waitClosed(t, feed.ready, "WatchOrgSecrets listening")
		feed.up(true)
		// Another replica stores the key after this one read the org's
		// secrets: the feed reports it before the read is remembered.
		other := serviceWithKeys(b.store, keys)
		feed.mu.Lock()
		feed.during = func() {
			if _, err := other.SetOrgSecret(ctx, caller, "ANTHROPIC_API_KEY", canary); err != nil {
				t.Error(err)
			}
			if all {
				feed.changed("")
			} else {
				feed.changed(caller.Org)
			}
		}
		feed.mu.Unlock()
		if anthropicAvailable(t, svc, caller) {
			t.Fatal("the answer of the read before the change has a credential")
		}
		if !anthropicAvailable(t, svc, caller) {
			t.Fatalf("changed(%q) during the first lookup: the next answer has no credential", map[bool]string{true: "", false: caller.Org}[all])
		}
	}
}

// TestOffered_CredentialCacheIsBounded: three orgs through a cache of two.
func TestOffered_CredentialCacheIsBounded(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite")
	feed := newFakeFeed(b.store)
	svc := serviceWithKeys(feed, newKeys(t))
	provision.SetCredCache(svc, time.Hour, 2, time.Now)
	watch(t, svc)
	waitClosed(t, feed.ready, "WatchOrgSecrets listening")
	feed.up(true)
	callers := []modelgate.Caller{discoveryCaller(), discoveryCaller(), discoveryCaller()}
	for range 2 {
		for _, c := range callers {
			anthropicAvailable(t, svc, c)
		}
	}
	// An unbounded cache reads each org once (3); the evicted entry is any
	// one, so 4, 5 or 6 reads are all right.
	if n := feed.reads.Load(); n < 4 || n > 6 {
		t.Fatalf("%d reads for 3 orgs twice through a cache of 2, want 4 to 6", n)
	}
}

// TestOfferedJSON_IsTheEncodingOfOffered: for every runtime, filter and
// set of held keys, list_offered_models' encoded answer (remembered or
// not) is json.Marshal of Offered, and a filter that names no provider of
// the runtime is not remembered.
func TestOfferedJSON_IsTheEncodingOfOffered(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite")
	ctx := t.Context()
	svc := b.svc
	watch(t, svc)
	filters := []registry.Filter{{}, {Billing: "all"}, {Billing: "platform"}, {Billing: "byok"},
		{Provider: "anthropic-api"}, {Provider: "openrouter", Billing: "byok"}, {Provider: "no-such-provider"}}
	holdings := [][]string{nil, {"ANTHROPIC_API_KEY"}, {"OPENROUTER_API_KEY", "OPENAI_API_KEY"}}
	for i, held := range holdings {
		caller := modelgate.Caller{Org: fmt.Sprintf("holds-%d", i)}
		for _, k := range held {
			if _, err := svc.SetOrgSecret(ctx, caller, k, canary); err != nil {
				t.Fatal(err)
			}
		}
		for _, rt := range append(registry.Default().Runtimes(), "") {
			for _, f := range filters {
				offer, err := svc.Offered(ctx, caller, rt, f)
				if err != nil {
					t.Fatalf("Offered(%q, %+v): %v", rt, f, err)
				}
				want, err := json.Marshal(offer)
				if err != nil {
					t.Fatal(err)
				}
				for round := range 2 {
					got, err := svc.OfferedJSON(ctx, caller, rt, f)
					if err != nil || got != string(want) {
						t.Fatalf("OfferedJSON(%q, %+v) for %v, call %d = %s, %v;\nwant %s", rt, f, held, round+1, got, err, want)
					}
				}
			}
		}
	}
	n := provision.OfferCacheLen(svc)
	for i := range 50 {
		if _, err := svc.OfferedJSON(ctx, b.caller, "claude-code", registry.Filter{Provider: fmt.Sprintf("made-up-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if got := provision.OfferCacheLen(svc); got != n {
		t.Errorf("50 made-up providers grew the cache of answers from %d to %d entries", n, got)
	}
}
