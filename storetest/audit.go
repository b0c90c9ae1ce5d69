package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/modelgate/modelgate"
)

func testAudit(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	entry := func(org string, at time.Time, allowed bool) modelgate.AuditEntry {
		e := modelgate.AuditEntry{At: at, Org: org, Allowed: allowed, Runtime: "claude-code", Model: "claude-sonnet-4-6 'x'; --"}
		if allowed {
			e.TokenPrefix, e.Provider, e.CredentialScope, e.WorkspaceID = "mg_abc", "anthropic-api", modelgate.ScopeOrg, uuid.NewString()
		} else {
			e.Code, e.DryRun = modelgate.EMissingCredential, true
		}
		return e
	}
	earlier := entry("acme", t0.Add(-time.Hour), true)
	a1 := entry("acme", t0.Add(123456789*time.Nanosecond), true) // stored rounded to microseconds
	b1 := entry("beta", t0.Add(time.Second), false)
	a2 := entry("acme", t0.Add(2*time.Second), false)
	a3 := entry("acme", t0.Add(2*time.Second), true) // same time as a2, appended after it
	for _, e := range []modelgate.AuditEntry{earlier, a1, b1, a2, a3} {
		if err := s.AppendAudit(ctx, e); err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
	}
	a1.At = t0.Add(123457 * time.Microsecond)

	list := func(org string, since time.Time, limit int) []modelgate.AuditEntry {
		t.Helper()
		got, err := s.ListAudit(ctx, org, since, limit)
		if err != nil {
			t.Fatalf("ListAudit(%q): %v", org, err)
		}
		for _, e := range got {
			wantStoredTime(t, "At", e.At)
		}
		return got
	}
	tests := []struct {
		name  string
		org   string
		since time.Time
		limit int
		want  []modelgate.AuditEntry
	}{
		{"one org since t0", "acme", t0, 100, []modelgate.AuditEntry{a1, a2, a3}},
		{"every org since t0", "", t0, 100, []modelgate.AuditEntry{a1, b1, a2, a3}},
		{"since is inclusive", "acme", a2.At, 100, []modelgate.AuditEntry{a2, a3}},
		{"limit keeps the oldest", "acme", time.Time{}, 2, []modelgate.AuditEntry{earlier, a1}},
		{"other org", "beta", time.Time{}, 100, []modelgate.AuditEntry{b1}},
		{"unknown org", "nobody", time.Time{}, 100, []modelgate.AuditEntry{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := list(tt.org, tt.since, tt.limit)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ListAudit (-want +got):\n%s", diff)
			}
			diffJSON(t, "ListAudit", tt.want, got)
		})
	}

	// A zero time means now.
	before := time.Now()
	if err := s.AppendAudit(ctx, modelgate.AuditEntry{Org: "gamma", Runtime: "codex", Model: "gpt-5.5", Allowed: true}); err != nil {
		t.Fatalf("AppendAudit: %v", err)
	}
	got := list("gamma", time.Time{}, 10)
	if len(got) != 1 || got[0].At.Before(before.Add(-time.Microsecond)) || got[0].At.After(time.Now().Add(time.Microsecond)) {
		t.Errorf("entry without a time = %+v, want one stamped between %v and now", got, before)
	}

	wantCode(t, s.AppendAudit(ctx, modelgate.AuditEntry{Runtime: "codex"}), modelgate.EInvalidArgument)
	wantCode(t, s.AppendAudit(ctx, modelgate.AuditEntry{Org: "acme", WorkspaceID: "not-a-uuid"}), modelgate.EInvalidArgument)
	_, err := s.ListAudit(ctx, "acme", t0, 0)
	wantCode(t, err, modelgate.EInvalidArgument)
}

func testCreateAudit(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	decision := func() *modelgate.AuditEntry {
		return &modelgate.AuditEntry{Org: "acme", TokenPrefix: "tok1", Allowed: true, Runtime: "claude-code",
			Model: "claude-sonnet-4-6", Provider: "anthropic-api", CredentialScope: modelgate.ScopeOrg}
	}
	nw := newWorkspace("acme", "audited")
	nw.Workspace.IdempotencyKey = "k"
	nw.Audit = decision()
	w := create(t, s, nw)

	// An idempotent repeat and a name conflict write no audit row.
	again := newWorkspace("acme", "audited")
	again.Workspace.IdempotencyKey = "k"
	again.Audit = decision()
	if _, created, err := s.CreateWorkspace(ctx, again); err != nil || created {
		t.Fatalf("repeat: created=%v err=%v", created, err)
	}
	conflict := newWorkspace("acme", "audited")
	conflict.Audit = decision()
	if _, _, err := s.CreateWorkspace(ctx, conflict); modelgate.ErrorCode(err) != modelgate.ENameConflict {
		t.Fatalf("conflict: %v", err)
	}

	got, err := s.ListAudit(ctx, "acme", time.Time{}, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []modelgate.AuditEntry{{At: w.CreatedAt, Org: "acme", TokenPrefix: "tok1", Allowed: true, Runtime: "claude-code",
		Model: "claude-sonnet-4-6", Provider: "anthropic-api", CredentialScope: modelgate.ScopeOrg, WorkspaceID: w.ID}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("audit after create, repeat and conflict (-want +got):\n%s", diff)
	}
}
