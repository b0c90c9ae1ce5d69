package storetest

import (
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
	if err := s.CreateKeyLink(ctx, l, hash); err != nil {
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
			wantCode(t, s.CreateKeyLink(ctx, newKeyLink(org, "kl1", expires), hash), modelgate.ENameConflict)
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
			wantCode(t, s.CreateKeyLink(ctx, bad.l, bad.hash), modelgate.EInvalidArgument)
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
	if err := s.CreateKeyLink(ctx, newKeyLink("acme", "kl-old", time.Date(2026, 1, 2, 4, 0, 0, 0, time.UTC)), hash); err != nil {
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
	if err := s.CreateKeyLink(ctx, newKeyLink("acme", "race", time.Now().Add(time.Hour)), []byte{1}); err != nil {
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
