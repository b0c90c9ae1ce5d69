package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/modelgate/modelgate"
)

func newKeyLink(org, id string, expires time.Time) modelgate.KeyLink {
	return modelgate.KeyLink{
		ID: id, Org: org, Provider: "anthropic-api", Names: []string{"ANTHROPIC_API_KEY", "CLAUDE_CODE_OAUTH_TOKEN"},
		Runtime: "claude-code", Model: "claude-sonnet-4-6 'x'", TokenPrefix: "mg_abc",
		CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC), ExpiresAt: expires,
	}
}

func testKeyLinks(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	hash := []byte{0, 1, 2, 0xff}
	expires := time.Date(2030, 1, 1, 0, 0, 0, 999, time.UTC)
	// A link is made by a refusal: it must not create the org's row.
	c, counts := s.(Counter)
	var before map[string]int64
	if counts {
		var err error
		if before, err = c.Counts(ctx); err != nil {
			t.Fatal(err)
		}
	}
	l := newKeyLink("acme", "kl1", expires)
	if err := s.CreateKeyLink(ctx, l, hash, 0); err != nil {
		t.Fatalf("CreateKeyLink: %v", err)
	}
	if counts {
		after, err := c.Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if after["orgs"] != before["orgs"] || after["key_links"] != before["key_links"]+1 {
			t.Errorf("CreateKeyLink: orgs %d -> %d, key_links %d -> %d; want only one key link more",
				before["orgs"], after["orgs"], before["key_links"], after["key_links"])
		}
	}
	want := l
	want.CreatedAt = time.Date(2026, 1, 2, 3, 4, 5, 123457000, time.UTC)
	want.ExpiresAt = time.Date(2030, 1, 1, 0, 0, 0, 1000, time.UTC) // rounded to microseconds
	got, gotHash, err := s.KeyLinkByID(ctx, "kl1")
	if err != nil {
		t.Fatalf("KeyLinkByID: %v", err)
	}
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("KeyLinkByID (-want +got):\n%s", diff)
	}
	if !cmp.Equal(hash, gotHash) {
		t.Errorf("hash = %x, want %x", gotHash, hash)
	}
	_, _, err = s.KeyLinkByID(ctx, "nope")
	wantCode(t, err, modelgate.ENotFound)

	// Ids are unique across orgs; incomplete links are refused.
	for _, org := range []string{"acme", "beta"} {
		writesNothing(t, s, func() {
			wantCode(t, s.CreateKeyLink(ctx, newKeyLink(org, "kl1", expires), hash, 0), modelgate.ENameConflict)
		})
	}
	noNames := newKeyLink("acme", "kl2", expires)
	noNames.Names = nil
	for _, bad := range []struct {
		l    modelgate.KeyLink
		hash []byte
	}{
		{newKeyLink("", "kl2", expires), hash},
		{newKeyLink("acme", "", expires), hash},
		{newKeyLink("acme", "kl2", time.Time{}), hash},
		{noNames, hash},
		{newKeyLink("acme", "kl2", expires), nil},
	} {
		writesNothing(t, s, func() {
			wantCode(t, s.CreateKeyLink(ctx, bad.l, bad.hash, 0), modelgate.EInvalidArgument)
		})
	}

	// Spend: once; a release after a failed store makes it usable again.
	at := time.Date(2029, 6, 1, 12, 0, 0, 123456000, time.UTC)
	spent, err := s.SpendKeyLink(ctx, "kl1", "ANTHROPIC_API_KEY", at)
	if err != nil || !spent {
		t.Fatalf("SpendKeyLink = %v, %v; want true", spent, err)
	}
	if spent, err := s.SpendKeyLink(ctx, "kl1", "ANTHROPIC_API_KEY", at.Add(time.Second)); err != nil || spent {
		t.Fatalf("second SpendKeyLink = %v, %v; want false", spent, err)
	}
	got, _, err = s.KeyLinkByID(ctx, "kl1")
	if err != nil || got.UsedAt == nil || !got.UsedAt.Equal(at) || got.UsedName != "ANTHROPIC_API_KEY" {
		t.Fatalf("spent link = %+v, %v; want used at %v with the name", got, err, at)
	}
	// A release for another time does nothing.
	if err := s.ReleaseKeyLink(ctx, "kl1", at.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if spent, _ := s.SpendKeyLink(ctx, "kl1", "X", at.Add(2*time.Second)); spent {
		t.Fatal("a release for another time made the link usable again")
	}
	if err := s.ReleaseKeyLink(ctx, "kl1", at); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.KeyLinkByID(ctx, "kl1"); got.UsedAt != nil || got.UsedName != "" {
		t.Fatalf("released link = %+v; want unused", got)
	}

	// An expired or unknown link is not spent.
	if err := s.CreateKeyLink(ctx, newKeyLink("acme", "kl-old", time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC)), hash, 0); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"kl-old", "unknown"} {
		if spent, err := s.SpendKeyLink(ctx, id, "ANTHROPIC_API_KEY", at); err != nil || spent {
			t.Errorf("SpendKeyLink(%s) = %v, %v; want false", id, spent, err)
		}
	}
	// Expiry is exclusive: at the expiry instant the link is dead.
	if spent, _ := s.SpendKeyLink(ctx, "kl-old", "ANTHROPIC_API_KEY", time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC)); spent {
		t.Error("SpendKeyLink at the expiry instant spent the link")
	}
}

func testKeyLinkConcurrentSpend(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	if err := s.CreateKeyLink(ctx, newKeyLink("acme", "race", time.Now().Add(time.Hour)), []byte{1}, 0); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			spent, err := s.SpendKeyLink(ctx, "race", "ANTHROPIC_API_KEY", time.Now().Add(time.Duration(i)*time.Microsecond))
			if err != nil {
				t.Errorf("SpendKeyLink: %v", err)
			}
			if spent {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d of %d concurrent SpendKeyLink calls spent the link, want exactly 1", wins, n)
	}
}

func testAuditKeyLinkFields(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	at := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	e := modelgate.AuditEntry{At: at, Org: "acme", Allowed: true, Provider: "anthropic-api", CredentialScope: modelgate.ScopeOrg,
		Event: modelgate.AuditKeyLinkUsed, KeyLink: "kl1", SecretName: "ANTHROPIC_API_KEY"}
	if err := s.AppendAudit(ctx, e); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListAudit(ctx, "acme", at, 10)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]modelgate.AuditEntry{e}, got); diff != "" {
		t.Errorf("ListAudit (-want +got):\n%s", diff)
	}
}

// linkExists reports whether the store still holds the link id.
func linkExists(t *testing.T, s modelgate.Store, id string) bool {
	t.Helper()
	_, _, err := s.KeyLinkByID(t.Context(), id)
	if err != nil && modelgate.ErrorCode(err) != modelgate.ENotFound {
		t.Fatalf("KeyLinkByID(%s): %v", id, err)
	}
	return err == nil
}

// testKeyLinkSweep: a create deletes, oldest first and at most a batch,
// the links that expired more than KeyLinkRetention before it; links that
// expired or were used more recently stay, so the page can still say so.
func testKeyLinkSweep(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	hash := []byte{1}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cutoff := now.Add(-modelgate.KeyLinkRetention)
	link := func(id string, created, expires time.Time) {
		t.Helper()
		l := newKeyLink("acme", id, expires)
		l.CreatedAt = created
		if err := s.CreateKeyLink(ctx, l, hash, 0); err != nil {
			t.Fatalf("CreateKeyLink(%s): %v", id, err)
		}
	}
	// Made before the long-dead links below, so their own sweeps find none.
	link("at-cutoff", cutoff.Add(-15*time.Minute), cutoff) // expired exactly a retention ago: kept
	link("expired", now.Add(-75*time.Minute), now.Add(-time.Hour))
	link("used", now.Add(-2*time.Hour), now.Add(-105*time.Minute))
	if spent, err := s.SpendKeyLink(ctx, "used", "ANTHROPIC_API_KEY", now.Add(-110*time.Minute)); err != nil || !spent {
		t.Fatalf("SpendKeyLink(used) = %v, %v", spent, err)
	}
	link("live", now.Add(-time.Minute), now.Add(14*time.Minute))
	// Long dead: expired before the cutoff, oldest first. One of them was
	// used: a used link is swept by its expiry like any other.
	const nDead = modelgate.KeyLinkSweepBatch + 3
	dead := make([]string, nDead)
	for i := range dead {
		dead[i] = fmt.Sprintf("dead-%02d", i)
		expires := cutoff.Add(-time.Duration(nDead-i) * time.Minute)
		link(dead[i], expires.Add(-15*time.Minute), expires)
	}
	if spent, err := s.SpendKeyLink(ctx, dead[nDead-1], "ANTHROPIC_API_KEY", cutoff.Add(-30*time.Minute)); err != nil || !spent {
		t.Fatalf("SpendKeyLink(%s) = %v, %v", dead[nDead-1], spent, err)
	}
	kept := []string{"at-cutoff", "expired", "used", "live"}
	for _, id := range append(dead, kept...) {
		if !linkExists(t, s, id) {
			t.Fatalf("%s was deleted by creates made before the retention had passed", id)
		}
	}

	// A create whose id is taken deletes nothing either.
	writesNothing(t, s, func() {
		l := newKeyLink("acme", "live", now.Add(15*time.Minute))
		l.CreatedAt = now
		wantCode(t, s.CreateKeyLink(ctx, l, hash, 0), modelgate.ENameConflict)
	})

	// The first create now deletes the oldest batch, the second the rest.
	link("new-1", now, now.Add(15*time.Minute))
	for i, id := range dead {
		if gone := !linkExists(t, s, id); gone != (i < modelgate.KeyLinkSweepBatch) {
			t.Errorf("after one create: %s deleted = %v, want %v (the %d oldest)", id, gone, !gone, modelgate.KeyLinkSweepBatch)
		}
	}
	link("new-2", now, now.Add(15*time.Minute))
	for _, id := range dead {
		if linkExists(t, s, id) {
			t.Errorf("after two creates: %s, expired before the retention, is still stored", id)
		}
	}
	for _, id := range append(kept, "new-1", "new-2") {
		if !linkExists(t, s, id) {
			t.Errorf("%s was deleted within the retention", id)
		}
	}

	// What the page reads of a recently expired or used link is intact.
	if l, _, err := s.KeyLinkByID(ctx, "expired"); err != nil || l.UsedAt != nil || !l.ExpiresAt.Equal(now.Add(-time.Hour)) {
		t.Errorf("expired link = %+v, %v; want it unused, expired an hour ago", l, err)
	}
	if l, _, err := s.KeyLinkByID(ctx, "used"); err != nil || l.UsedAt == nil || l.UsedName != "ANTHROPIC_API_KEY" {
		t.Errorf("used link = %+v, %v; want it used with its name", l, err)
	}
	if spent, err := s.SpendKeyLink(ctx, "live", "ANTHROPIC_API_KEY", now); err != nil || !spent {
		t.Errorf("SpendKeyLink(live) after the sweeps = %v, %v; want true", spent, err)
	}
}

// testKeyLinkConcurrentSweep: creates that sweep, running at once with
// each other and with spends, delete every long-dead link and nothing
// else; every live link stays and is spent exactly once.
func testKeyLinkConcurrentSweep(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	hash := []byte{1}
	now := time.Now().UTC()
	longAgo := now.Add(-modelgate.KeyLinkRetention - time.Hour)
	const (
		workers = 8
		each    = 4 // links each worker creates
		nDead   = 2 * modelgate.KeyLinkSweepBatch
		nLive   = workers
	)
	create := func(id string, created, expires time.Time) error {
		l := newKeyLink(fmt.Sprintf("org-%d", len(id)%3), id, expires)
		l.CreatedAt = created
		return s.CreateKeyLink(ctx, l, hash, 0)
	}
	for i := range nDead {
		if err := create(fmt.Sprintf("dead-%d", i), longAgo.Add(-time.Hour), longAgo.Add(-time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range nLive {
		if err := create(fmt.Sprintf("live-%d", i), now, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}

	var wg sync.WaitGroup
	start := make(chan struct{})
	spent := make([]bool, nLive)
	for w := range workers {
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			for i := range each {
				if err := create(fmt.Sprintf("new-%d-%d", w, i), now, now.Add(time.Hour)); err != nil {
					t.Errorf("CreateKeyLink: %v", err)
				}
			}
		}()
		go func() {
			defer wg.Done()
			<-start
			ok, err := s.SpendKeyLink(ctx, fmt.Sprintf("live-%d", w), "ANTHROPIC_API_KEY", now.Add(time.Minute))
			if err != nil {
				t.Errorf("SpendKeyLink: %v", err)
			}
			spent[w] = ok
		}()
	}
	close(start)
	wg.Wait()

	for i := range nDead {
		if id := fmt.Sprintf("dead-%d", i); linkExists(t, s, id) {
			t.Errorf("%s, long dead, survived %d sweeping creates", id, workers*each)
		}
	}
	for i := range nLive {
		l, _, err := s.KeyLinkByID(ctx, fmt.Sprintf("live-%d", i))
		if err != nil || !spent[i] || l.UsedAt == nil {
			t.Errorf("live-%d: %+v, %v, spent %v; want it kept and spent", i, l, err, spent[i])
		}
	}
	for w := range workers {
		for i := range each {
			if id := fmt.Sprintf("new-%d-%d", w, i); !linkExists(t, s, id) {
				t.Errorf("%s, created live, is gone", id)
			}
		}
	}
	if c, ok := s.(Counter); ok {
		counts, err := c.Counts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(nLive + workers*each); counts["key_links"] != want {
			t.Errorf("key_links holds %d rows, want the %d live ones", counts["key_links"], want)
		}
	}
}

// testKeyLinkLimit: with a positive max, an org holds at most max unused,
// unexpired links; a create past it is refused and writes nothing (not
// even its sweep); used and expired links do not count, nor other orgs'.
func testKeyLinkLimit(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	const max = 3
	now := time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)
	create := func(org, id string, created, expires time.Time, max int) error {
		l := newKeyLink(org, id, expires)
		l.CreatedAt = created
		return s.CreateKeyLink(ctx, l, []byte{1}, max)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// A long-dead link a create would sweep, and one that expires soon.
	longAgo := now.Add(-2 * modelgate.KeyLinkRetention)
	must(create("beta", "dead", longAgo.Add(-time.Hour), longAgo, 0))
	must(create("acme", "soon", now, now.Add(time.Minute), max))
	for i := range max - 1 {
		must(create("acme", fmt.Sprintf("l%d", i), now, now.Add(time.Hour), max))
	}
	writesNothing(t, s, func() {
		wantCode(t, create("acme", "over", now, now.Add(time.Hour), max), modelgate.EWorkspaceLimit)
	})
	if linkExists(t, s, "over") {
		t.Fatal("the refused link was stored")
	}
	// Another org, and the same org without a limit, are not refused.
	must(create("beta", "b0", now, now.Add(time.Hour), max))
	must(create("acme", "unlimited", now, now.Add(time.Hour), 0))

	// Used links do not count; a released link counts again.
	at := now.Add(time.Second)
	if spent, err := s.SpendKeyLink(ctx, "l0", "ANTHROPIC_API_KEY", at); err != nil || !spent {
		t.Fatalf("SpendKeyLink = %v, %v", spent, err)
	}
	must(create("acme", "after-spend", now, now.Add(time.Hour), max+1)) // unlimited made max+1 unused
	must(s.ReleaseKeyLink(ctx, "l0", at))
	wantCode(t, create("acme", "after-release", now, now.Add(time.Hour), max+2), modelgate.EWorkspaceLimit)

	// A link that expired unused no longer counts.
	must(create("acme", "after-expiry", now.Add(time.Minute), now.Add(time.Hour), max+2))
}

// testKeyLinkConcurrentLimit: concurrent creates for one org, from as many
// callers as the store serves at once, never store more than max links.
func testKeyLinkConcurrentLimit(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	const (
		max     = 3
		callers = 12
	)
	now := time.Now().UTC()
	var wg sync.WaitGroup
	var mu sync.Mutex
	made := 0
	start := make(chan struct{})
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			l := newKeyLink("acme", fmt.Sprintf("c%d", i), now.Add(time.Hour))
			l.CreatedAt = now
			err := s.CreateKeyLink(ctx, l, []byte{1}, max)
			switch modelgate.ErrorCode(err) {
			case "":
				mu.Lock()
				made++
				mu.Unlock()
			case modelgate.EWorkspaceLimit:
			default:
				t.Errorf("CreateKeyLink: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if made != max {
		t.Fatalf("%d of %d concurrent creates made a link, want exactly max = %d", made, callers, max)
	}
}
