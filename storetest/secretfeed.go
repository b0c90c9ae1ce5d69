package storetest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/modelgate/modelgate"
)

// RunReplicas runs the cases that need two stores on one database, as two
// server processes (or a server and a command) see it: open must return
// them, new and empty, for the test t, and close them when t ends.
func RunReplicas(t *testing.T, open func(t *testing.T) (a, b modelgate.Store)) {
	tests := []struct {
		name string
		test func(t *testing.T, a, b modelgate.Store)
	}{
		{"OrgSecrets_AnotherReplicaHearsEveryChange", testOrgSecretFeedAcrossReplicas},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, b := open(t)
			tt.test(t, a, b)
		})
	}
}

// feedOrg returns an org name of its own for a test of the org secret
// feed: PostgreSQL stores of every schema notify one channel, so a test
// must not mistake another test's change of "acme" for the one it waits for.
func feedOrg() string {
	return "feed-" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
}

// secretFeed records what ListenOrgSecrets of one store reports about one
// org, step by step.
type secretFeed struct {
	org string
	ups chan bool

	mu sync.Mutex
	// heard: the org (or "": every org) was reported since the step began;
	// early: that happened before the step's write returned.
	heard, early, returned bool
	done                   chan error
}

// listenSecrets runs ListenOrgSecrets of s until the test ends and waits
// for its first up(true).
func listenSecrets(t *testing.T, s modelgate.Store, org string) *secretFeed {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	f := &secretFeed{org: org, ups: make(chan bool, 100), done: make(chan error, 1)}
	go func() {
		f.done <- s.ListenOrgSecrets(ctx, func(up bool) { f.ups <- up }, func(o string) {
			if o != "" && o != org {
				return
			}
			f.mu.Lock()
			f.heard = true
			if !f.returned {
				f.early = true
			}
			f.mu.Unlock()
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-f.done:
			if err != nil {
				t.Errorf("ListenOrgSecrets returned %v after ctx ended, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("ListenOrgSecrets did not return after ctx ended")
		}
	})
	select {
	case up := <-f.ups:
		if !up {
			t.Fatal("the org secret feed started with up(false)")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no up(true) when the org secret feed started")
	}
	return f
}

// step forgets what was heard, runs write and marks it returned.
func (f *secretFeed) step(t *testing.T, name string, write func() error) {
	t.Helper()
	f.mu.Lock()
	f.heard, f.early, f.returned = false, false, false
	f.mu.Unlock()
	err := write()
	f.mu.Lock()
	f.returned = true
	f.mu.Unlock()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// heardEarly reports whether the org was reported before the step's write
// returned.
func (f *secretFeed) heardEarly() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.early
}

// heardYet reports whether the org was reported since the step began.
func (f *secretFeed) heardYet() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.heard
}

// secretWrites are the writes that can change which of an org's secrets
// are usable, in an order where each applies: the value set, replaced,
// rejected by a check, accepted by one, resealed under another key,
// deleted.
func secretWrites(ctx context.Context, s modelgate.Store, org string) []struct {
	name  string
	write func() error
} {
	first := modelgate.SealedSecret{Name: "GROQ_API_KEY", Sealed: sealed("k1", "first")}
	second := modelgate.SealedSecret{Name: "GROQ_API_KEY", Sealed: sealed("k1", "second")}
	at := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	rejected := second
	rejected.CheckedAt, rejected.RejectedAt = at, at
	accepted := second
	accepted.CheckedAt = at.Add(time.Minute)
	matched := func(what string, ok bool, err error) error {
		if err == nil && !ok {
			return fmt.Errorf("%s matched no row", what)
		}
		return err
	}
	return []struct {
		name  string
		write func() error
	}{
		{"SetOrgSecret (new)", func() error { _, err := s.SetOrgSecret(ctx, org, first, 0); return err }},
		{"SetOrgSecret (new value)", func() error { _, err := s.SetOrgSecret(ctx, org, second, 0); return err }},
		{"RecordSecretCheck (rejected)", func() error {
			ok, err := s.RecordSecretCheck(ctx, org, "", rejected)
			return matched("RecordSecretCheck", ok, err)
		}},
		{"RecordSecretCheck (valid)", func() error {
			ok, err := s.RecordSecretCheck(ctx, org, "", accepted)
			return matched("RecordSecretCheck", ok, err)
		}},
		{"RotateSecrets", func() error {
			n, err := s.RotateSecrets(ctx, "k2", func(_, _, _ string, v modelgate.Sealed) (modelgate.Sealed, error) {
				return sealed("k2", string(v.Ciphertext)), nil
			})
			if err == nil && n == 0 {
				return fmt.Errorf("RotateSecrets resealed nothing")
			}
			return err
		}},
		{"DeleteOrgSecret", func() error {
			ok, err := s.DeleteOrgSecret(ctx, org, "GROQ_API_KEY")
			return matched("DeleteOrgSecret", ok, err)
		}},
	}
}

// testOrgSecretFeed checks ListenOrgSecrets of one store: up(true) when it
// starts, the org of every write of its secrets (or "") reported before
// the write returns, a nil return when ctx ends, an error for a nil
// callback.
func testOrgSecretFeed(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	org := feedOrg()
	f := listenSecrets(t, s, org)
	for _, w := range secretWrites(ctx, s, org) {
		f.step(t, w.name, w.write)
		if !f.heardEarly() {
			t.Errorf("%s returned before the feed reported org %s", w.name, org)
		}
	}
	if err := s.ListenOrgSecrets(ctx, nil, func(string) {}); err == nil {
		t.Error("a nil up: nil error")
	}
	if err := s.ListenOrgSecrets(ctx, func(bool) {}, nil); err == nil {
		t.Error("a nil changed: nil error")
	}
}

// testOrgSecretFeedAcrossReplicas: every write of an org's secrets through
// one replica is heard by the other's ListenOrgSecrets, within a generous
// deadline (the bound is a second; a loaded machine must not fail the
// test, only a feed that never reports).
func testOrgSecretFeedAcrossReplicas(t *testing.T, a, b modelgate.Store) {
	ctx := t.Context()
	org := feedOrg()
	f := listenSecrets(t, b, org)
	for _, w := range secretWrites(ctx, a, org) {
		start := time.Now()
		f.step(t, w.name, w.write)
		for !f.heardYet() {
			if time.Since(start) > 10*time.Second {
				t.Fatalf("%s through one replica: the other did not hear of it in 10s", w.name)
			}
			time.Sleep(5 * time.Millisecond) // polling a deadline, not synchronising
		}
		t.Logf("%s: heard after %s", w.name, time.Since(start).Round(time.Millisecond))
	}
}

// CheckOrgSecretWritesPublish fails t unless every write of s that can
// change which of an org's secrets are usable publishes the org (or "")
// to subscribe's subscribers before it returns. subscribe reaches the
// store's own, in-process subscribers only, without the feed from other
// processes, which on PostgreSQL often arrives before the write returns
// too: so a write that forgets to publish fails here every time, and not
// only in testOrgSecretFeed when the notification happens to be late.
func CheckOrgSecretWritesPublish(t *testing.T, s modelgate.Store, subscribe func(func(org string)) (cancel func())) {
	t.Helper()
	org := feedOrg()
	var mu sync.Mutex
	heard := false
	cancel := subscribe(func(o string) {
		if o == org || o == "" {
			mu.Lock()
			heard = true
			mu.Unlock()
		}
	})
	defer cancel()
	for _, w := range secretWrites(t.Context(), s, org) {
		mu.Lock()
		heard = false
		mu.Unlock()
		if err := w.write(); err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
		mu.Lock()
		got := heard
		mu.Unlock()
		if !got {
			t.Errorf("%s returned without publishing org %s to the store's listeners", w.name, org)
		}
	}
}
