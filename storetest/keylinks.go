package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
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
	if err := createKeyLink(ctx, s, l, hash, 0); err != nil {
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
			wantCode(t, createKeyLink(ctx, s, newKeyLink(org, "kl1", expires), hash, 0), modelgate.ENameConflict)
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
			wantCode(t, createKeyLink(ctx, s, bad.l, bad.hash, 0), modelgate.EInvalidArgument)
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
	if err := createKeyLink(ctx, s, newKeyLink("acme", "kl-old", time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC)), hash, 0); err != nil {
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
	if err := createKeyLink(ctx, s, newKeyLink("acme", "race", time.Now().Add(time.Hour)), []byte{1}, 0); err != nil {
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

// createKeyLink is CreateKeyLink for callers that need only its error.
func createKeyLink(ctx context.Context, s modelgate.Store, l modelgate.KeyLink, hash []byte, max int) error {
	_, err := s.CreateKeyLink(ctx, l, hash, max)
	return err
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
		if err := createKeyLink(ctx, s, l, hash, 0); err != nil {
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
		wantCode(t, createKeyLink(ctx, s, l, hash, 0), modelgate.ENameConflict)
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
		return createKeyLink(ctx, s, l, hash, 0)
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

// testKeyLinkRetire: with a positive max, a create at the org's cap of
// unused live links succeeds and retires the oldest of them: expired at the
// new link's creation, so it can no longer be spent. Used and expired links
// neither count nor change, nor do other orgs' links; a create that fails
// retires nothing.
func testKeyLinkRetire(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	const max = 3
	now := time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC)
	min := func(n int) time.Time { return now.Add(time.Duration(n) * time.Minute) }
	create := func(org, id string, created, expires time.Time, max, wantRetired int) {
		t.Helper()
		l := newKeyLink(org, id, expires)
		l.CreatedAt = created
		n, err := s.CreateKeyLink(ctx, l, []byte{1}, max)
		if err != nil {
			t.Fatalf("CreateKeyLink(%s): %v", id, err)
		}
		if n != wantRetired {
			t.Errorf("CreateKeyLink(%s) retired %d links, want %d", id, n, wantRetired)
		}
	}
	spend := func(id string, at time.Time) bool {
		t.Helper()
		spent, err := s.SpendKeyLink(ctx, id, "ANTHROPIC_API_KEY", at)
		if err != nil {
			t.Fatalf("SpendKeyLink(%s): %v", id, err)
		}
		return spent
	}
	get := func(id string) modelgate.KeyLink {
		t.Helper()
		l, _, err := s.KeyLinkByID(ctx, id)
		if err != nil {
			t.Fatalf("KeyLinkByID(%s): %v", id, err)
		}
		return *l
	}

	// acme holds a used link and an expired one, which do not count, and
	// max live unused ones; "oldest" expires first.
	create("acme", "used", min(-10), min(60), max, 0)
	if !spend("used", min(-9)) {
		t.Fatal("could not spend the link 'used'")
	}
	create("acme", "expired", min(-30), min(-15), max, 0)
	create("acme", "oldest", min(-3), min(12), max, 0)
	create("acme", "l1", min(-2), min(13), max, 0)
	create("acme", "l2", min(-1), min(14), max, 0)
	// beta is at the cap too, with links older than all of acme's: a
	// retirement that crossed orgs would pick them.
	for i := range max {
		create("beta", fmt.Sprintf("b%d", i), min(-20+i), min(-5+i), max, 0)
	}
	before := map[string]modelgate.KeyLink{}
	for _, id := range []string{"used", "expired", "oldest", "l1", "l2", "b0", "b1", "b2"} {
		before[id] = get(id)
	}
	unchanged := func(when string, ids ...string) {
		t.Helper()
		for _, id := range ids {
			if diff := cmp.Diff(before[id], get(id)); diff != "" {
				t.Errorf("%s: link %s changed (-before +after):\n%s", when, id, diff)
			}
		}
	}

	// A create that fails (its id is taken) retires nothing.
	writesNothing(t, s, func() {
		l := newKeyLink("acme", "l1", min(15))
		l.CreatedAt = now
		n, err := s.CreateKeyLink(ctx, l, []byte{1}, max)
		wantCode(t, err, modelgate.ENameConflict)
		if n != 0 {
			t.Errorf("a failed create says it retired %d links", n)
		}
	})
	unchanged("after a failed create", "oldest", "l1", "l2")

	// At the cap: the create succeeds and the oldest unused live link
	// expires at its creation; nothing else changes.
	create("acme", "new", now, min(15), max, 1)
	retired := before["oldest"]
	retired.ExpiresAt = now
	if diff := cmp.Diff(retired, get("oldest")); diff != "" {
		t.Errorf("the oldest link after a create at the cap (-want +got):\n%s", diff)
	}
	unchanged("after a create at the cap", "used", "expired", "l1", "l2", "b0", "b1", "b2")
	if l := get("new"); l.UsedAt != nil || !l.ExpiresAt.Equal(min(15)) {
		t.Errorf("the new link = %+v, want it unused, expiring at %v", l, min(15))
	}
	// The retired link cannot be spent, at its retirement or later; the
	// others still can.
	for _, at := range []time.Time{now, now.Add(time.Second)} {
		if spend("oldest", at) {
			t.Errorf("the retired link was spent at %v", at)
		}
	}
	if l := get("oldest"); l.UsedAt != nil {
		t.Errorf("the retired link is marked used: %+v", l)
	}
	if !spend("l1", now.Add(time.Second)) {
		t.Error("a live link the retirement left could not be spent")
	}

	// With l1 used the org holds two live unused links: no retirement.
	create("acme", "new2", now, min(15).Add(time.Second), max, 0)
	// Without a cap nothing is retired either; the org now holds four.
	create("acme", "uncapped", now, min(15).Add(2*time.Second), 0, 0)
	// A cap of 2 keeps the one that expires last and the new one.
	create("acme", "new3", min(1), min(16), 2, 3)
	for _, id := range []string{"l2", "new", "new2"} {
		if l := get(id); !l.ExpiresAt.Equal(min(1)) || l.UsedAt != nil {
			t.Errorf("%s = %+v, want it retired at %v", id, l, min(1))
		}
	}
	for _, id := range []string{"uncapped", "new3"} {
		if l := get(id); !l.ExpiresAt.After(min(15)) || l.UsedAt != nil {
			t.Errorf("%s = %+v, want it live and unused", id, l)
		}
	}
	unchanged("at the end", "used", "expired", "b0", "b1", "b2")
}

// testKeyLinkConcurrentRetire: concurrent creates for one org at its cap,
// from as many callers as the store serves at once, all succeed and leave
// exactly max live unused links; together they retire all the others.
func testKeyLinkConcurrentRetire(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	const (
		max     = 3
		callers = 12
	)
	now := time.Now().UTC().Truncate(time.Second) // as stored: a retired link expires at exactly now
	var wg sync.WaitGroup
	var retired atomic.Int64
	start := make(chan struct{})
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			l := newKeyLink("acme", fmt.Sprintf("c%d", i), now.Add(time.Hour+time.Duration(i)*time.Second))
			l.CreatedAt = now
			n, err := s.CreateKeyLink(ctx, l, []byte{1}, max)
			if err != nil {
				t.Errorf("CreateKeyLink(c%d): %v", i, err)
			}
			retired.Add(int64(n))
		}()
	}
	close(start)
	wg.Wait()
	live := 0
	for i := range callers {
		l, _, err := s.KeyLinkByID(ctx, fmt.Sprintf("c%d", i))
		if err != nil {
			t.Fatalf("KeyLinkByID(c%d): %v", i, err)
		}
		if l.UsedAt == nil && l.ExpiresAt.After(now) {
			live++
		}
	}
	if live != max {
		t.Errorf("%d concurrent creates left %d live unused links, want exactly max = %d", callers, live, max)
	}
	if got := retired.Load(); got != callers-max {
		t.Errorf("the creates say they retired %d links, want %d", got, callers-max)
	}
}

// testKeyLinkSpendRacesRetirement: a spend of the org's oldest link,
// racing a create that retires it, ends with the link either spent (the
// create retired nothing) or expired and unused (the spend failed), never
// both, whichever wins.
func testKeyLinkSpendRacesRetirement(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	const (
		max    = 3
		rounds = 16
	)
	now := time.Now().UTC().Truncate(time.Second)
	for r := range rounds {
		org := fmt.Sprintf("race-%d", r)
		oldest := org + "-0"
		for i := range max {
			l := newKeyLink(org, fmt.Sprintf("%s-%d", org, i), now.Add(time.Hour+time.Duration(i)*time.Minute))
			l.CreatedAt = now.Add(-time.Minute)
			if err := createKeyLink(ctx, s, l, []byte{1}, max); err != nil {
				t.Fatal(err)
			}
		}
		var (
			wg      sync.WaitGroup
			spent   bool
			retired int
		)
		start := make(chan struct{})
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			var err error
			if spent, err = s.SpendKeyLink(ctx, oldest, "ANTHROPIC_API_KEY", now.Add(time.Second)); err != nil {
				t.Errorf("SpendKeyLink: %v", err)
			}
		}()
		go func() {
			defer wg.Done()
			<-start
			l := newKeyLink(org, org+"-new", now.Add(2*time.Hour))
			l.CreatedAt = now
			var err error
			if retired, err = s.CreateKeyLink(ctx, l, []byte{1}, max); err != nil {
				t.Errorf("CreateKeyLink: %v", err)
			}
		}()
		close(start)
		wg.Wait()
		l, _, err := s.KeyLinkByID(ctx, oldest)
		if err != nil {
			t.Fatal(err)
		}
		expired := !l.ExpiresAt.After(now)
		switch {
		case spent && (l.UsedAt == nil || expired || retired != 0):
			t.Errorf("round %d: the spend won, but the link is %+v and the create retired %d", r, l, retired)
		case !spent && (l.UsedAt != nil || !l.ExpiresAt.Equal(now) || retired != 1):
			t.Errorf("round %d: the retirement won, but the link is %+v and the create retired %d", r, l, retired)
		}
	}
}
