package storetest

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/modelgate/modelgate"
)

func testTokens(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	hash := []byte{0, 1, 2, 0xff, 'h'}
	created := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	tok := modelgate.Token{Prefix: "mg_abc", Org: "acme", Name: "CI 🤖 'robot'", ReadOnly: true, CreatedAt: created}
	if err := s.CreateToken(ctx, tok, hash); err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	want := tok
	want.CreatedAt = time.Date(2026, 1, 2, 3, 4, 5, 123457000, time.UTC) // rounded to microseconds

	got, gotHash, err := s.TokenByPrefix(ctx, "mg_abc")
	if err != nil {
		t.Fatalf("TokenByPrefix: %v", err)
	}
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("TokenByPrefix (-want +got):\n%s", diff)
	}
	diffJSON(t, "TokenByPrefix", &want, got)
	if !cmp.Equal(hash, gotHash) {
		t.Errorf("hash = %x, want %x", gotHash, hash)
	}

	// Prefixes are unique across orgs.
	for _, org := range []string{"acme", "beta"} {
		writesNothing(t, s, func() {
			err := s.CreateToken(ctx, modelgate.Token{Prefix: "mg_abc", Org: org, Name: "dup"}, hash)
			wantCode(t, err, modelgate.ENameConflict)
		})
	}
	for _, bad := range []modelgate.Token{{Org: "acme", Name: "no prefix"}, {Prefix: "mg_x", Name: "no org"}} {
		wantCode(t, s.CreateToken(ctx, bad, hash), modelgate.EInvalidArgument)
	}
	wantCode(t, s.CreateToken(ctx, modelgate.Token{Prefix: "mg_x", Org: "acme"}, nil), modelgate.EInvalidArgument)
	// One grammar for org names: a newline would forge a row of token list.
	for _, org := range []string{"a\nb", " ", "Acme", strings.Repeat("o", 300)} {
		writesNothing(t, s, func() {
			wantCode(t, s.CreateToken(ctx, modelgate.Token{Prefix: "mg_badorg", Org: org}, hash), modelgate.EInvalidArgument)
		})
	}

	// Uses are recorded, and the time only moves forward.
	used := time.Date(2026, 1, 2, 4, 0, 0, 1000, time.UTC)
	if err := s.TouchToken(ctx, "mg_abc", used); err != nil {
		t.Fatalf("TouchToken: %v", err)
	}
	if err := s.TouchToken(ctx, "mg_abc", used.Add(-time.Minute)); err != nil {
		t.Fatalf("TouchToken: %v", err)
	}
	got, _, _ = s.TokenByPrefix(ctx, "mg_abc")
	if got.LastUsed == nil || !got.LastUsed.Equal(used) {
		t.Errorf("LastUsed = %v, want %v", got.LastUsed, used)
	} else {
		wantStoredTime(t, "LastUsed", *got.LastUsed)
	}
	wantCode(t, s.TouchToken(ctx, "mg_unknown", used), modelgate.ENotFound)

	other := modelgate.Token{Prefix: "mg_beta", Org: "beta", Name: "beta"}
	if err := s.CreateToken(ctx, other, hash); err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	acme, err := s.ListTokens(ctx, "acme")
	if err != nil {
		t.Fatalf("ListTokens: %v", err)
	}
	if len(acme) != 1 || acme[0].Prefix != "mg_abc" || acme[0].LastUsed == nil {
		t.Errorf("ListTokens(acme) = %+v, want mg_abc with its last use", acme)
	}
	all, err := s.ListTokens(ctx, "")
	if err != nil {
		t.Fatalf("ListTokens: %v", err)
	}
	if len(all) != 2 || all[0].Prefix != "mg_abc" || all[1].Prefix != "mg_beta" {
		t.Errorf("ListTokens(\"\") = %+v, want mg_abc then mg_beta", all)
	}

	if err := s.RevokeToken(ctx, "mg_abc"); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	if err := s.RevokeToken(ctx, "mg_abc"); err != nil {
		t.Errorf("RevokeToken again: %v, want nil", err)
	}
	got, gotHash, err = s.TokenByPrefix(ctx, "mg_abc")
	if err != nil || !got.Revoked || !cmp.Equal(hash, gotHash) {
		t.Errorf("TokenByPrefix after revoke = %+v, %v; want the token, revoked, with its hash", got, err)
	}
	if beta, _, _ := s.TokenByPrefix(ctx, "mg_beta"); beta == nil || beta.Revoked {
		t.Errorf("revoking mg_abc revoked mg_beta: %+v", beta)
	}
	wantCode(t, s.RevokeToken(ctx, "mg_unknown"), modelgate.ENotFound)
	_, _, err = s.TokenByPrefix(ctx, "mg_unknown")
	wantCode(t, err, modelgate.ENotFound)
}

// testRevocationFeed checks ListenTokenRevocations of one store: up(true)
// when it starts, the prefix of a token this store revokes before
// RevokeToken returns, and a nil return when ctx ends.
func testRevocationFeed(t *testing.T, s modelgate.Store) {
	l, ok := s.(modelgate.TokenRevocationListener)
	if !ok {
		t.Skip("the store does not implement ListenTokenRevocations")
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if err := s.CreateToken(ctx, modelgate.Token{Prefix: "mg_feed", Org: "acme"}, []byte("h")); err != nil {
		t.Fatal(err)
	}
	ups := make(chan bool, 100)
	var mu sync.Mutex
	var revoked []string
	var returned atomic.Bool // RevokeToken has returned
	lateFirst := false       // the revocation was first reported after that
	done := make(chan error, 1)
	go func() {
		done <- l.ListenTokenRevocations(ctx, func(up bool) { ups <- up }, func(p string) {
			mu.Lock()
			if p == "mg_feed" && !slices.Contains(revoked, p) && returned.Load() {
				lateFirst = true
			}
			revoked = append(revoked, p)
			mu.Unlock()
		})
	}()
	select {
	case up := <-ups:
		if !up {
			t.Fatal("the feed started with up(false)")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no up(true) when the feed started")
	}
	if err := s.RevokeToken(ctx, "mg_feed"); err != nil {
		t.Fatal(err)
	}
	returned.Store(true)
	mu.Lock()
	got, late := slices.Contains(revoked, "mg_feed"), lateFirst
	mu.Unlock()
	if !got || late {
		t.Fatalf("RevokeToken returned before the feed reported it: %q", revoked)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ListenTokenRevocations returned %v after ctx ended, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ListenTokenRevocations did not return after ctx ended")
	}
	if err := l.ListenTokenRevocations(t.Context(), nil, func(string) {}); err == nil {
		t.Error("a nil callback: nil error")
	}
}
