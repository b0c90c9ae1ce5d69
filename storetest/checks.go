package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/modelgate/modelgate"
)

// testSecretVerdicts: a secret is stored with the time of its check; a
// re-check's verdict is recorded only on the value it was made on; a
// rejected org secret is no longer among the names the gate reads, until a
// new value is stored.
func testSecretVerdicts(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	checked := time.Date(2026, 12, 1, 10, 0, 0, 123456000, time.UTC)
	old := modelgate.SealedSecret{Name: "GROQ_API_KEY", Sealed: sealed("k1", "old"), CheckedAt: checked}
	if _, err := s.SetOrgSecret(ctx, "acme", old, 0); err != nil {
		t.Fatalf("SetOrgSecret: %v", err)
	}
	unchecked := modelgate.SealedSecret{Name: "OPENAI_API_KEY", Sealed: sealed("k1", "openai")}
	if _, err := s.SetOrgSecret(ctx, "acme", unchecked, 0); err != nil {
		t.Fatalf("SetOrgSecret: %v", err)
	}
	orgSecrets := func() []modelgate.SealedSecret {
		t.Helper()
		got, err := s.OrgSecrets(ctx, "acme")
		if err != nil {
			t.Fatalf("OrgSecrets: %v", err)
		}
		return got
	}
	if diff := cmp.Diff([]modelgate.SealedSecret{old, unchecked}, orgSecrets()); diff != "" {
		t.Errorf("OrgSecrets after set (-want +got):\n%s", diff)
	}

	// A verdict on a value that is no longer stored marks nothing.
	stale := modelgate.SealedSecret{Name: "GROQ_API_KEY", Sealed: sealed("k1", "older"), RejectedAt: checked, CheckedAt: checked}
	if ok, err := s.RecordSecretCheck(ctx, "acme", "", stale); err != nil || ok {
		t.Errorf("RecordSecretCheck on a replaced value = %v, %v; want false, nil", ok, err)
	}
	rejected := old
	rejected.CheckedAt = checked.Add(time.Hour)
	rejected.RejectedAt = checked.Add(time.Hour)
	if ok, err := s.RecordSecretCheck(ctx, "acme", "", rejected); err != nil || !ok {
		t.Fatalf("RecordSecretCheck = %v, %v; want true, nil", ok, err)
	}
	if diff := cmp.Diff([]modelgate.SealedSecret{rejected, unchecked}, orgSecrets()); diff != "" {
		t.Errorf("OrgSecrets after a rejection (-want +got):\n%s", diff)
	}
	names, err := s.OrgSecretNames(ctx, "acme")
	if err != nil {
		t.Fatalf("OrgSecretNames: %v", err)
	}
	if diff := cmp.Diff([]string{"OPENAI_API_KEY"}, names); diff != "" {
		t.Errorf("OrgSecretNames leave out a rejected key (-want +got):\n%s", diff)
	}
	// list_org_secrets still shows it: the person must see what to replace.
	if infos, _, err := s.ListOrgSecrets(ctx, "acme", modelgate.SecretFilter{Limit: 50}); err != nil || len(infos) != 2 {
		t.Errorf("ListOrgSecrets = %v, %v; want both secrets", infos, err)
	}

	// A new value clears the rejection and carries its own check time.
	fresh := modelgate.SealedSecret{Name: "GROQ_API_KEY", Sealed: sealed("k1", "new")}
	if _, err := s.SetOrgSecret(ctx, "acme", fresh, 0); err != nil {
		t.Fatalf("SetOrgSecret: %v", err)
	}
	if diff := cmp.Diff([]modelgate.SealedSecret{fresh, unchecked}, orgSecrets()); diff != "" {
		t.Errorf("OrgSecrets after a new value (-want +got):\n%s", diff)
	}
	if names, _ := s.OrgSecretNames(ctx, "acme"); len(names) != 2 {
		t.Errorf("OrgSecretNames after a new value = %v, want both", names)
	}

	// Workspace secrets keep their check time and take a re-check's verdict.
	nw := newWorkspace("acme", "checked")
	nw.Secrets = []modelgate.SealedSecret{
		{Name: "ANTHROPIC_API_KEY", Sealed: sealed("k1", "a"), CheckedAt: checked},
		{Name: "OTHER", Sealed: sealed("k1", "b")},
	}
	w := create(t, s, nw)
	got, err := s.WorkspaceSecrets(ctx, "acme", w.ID)
	if err != nil {
		t.Fatalf("WorkspaceSecrets: %v", err)
	}
	if diff := cmp.Diff(nw.Secrets, got); diff != "" {
		t.Errorf("WorkspaceSecrets (-want +got):\n%s", diff)
	}
	recheck := nw.Secrets[0]
	recheck.CheckedAt = checked.Add(2 * time.Hour)
	if ok, err := s.RecordSecretCheck(ctx, "acme", w.ID, recheck); err != nil || !ok {
		t.Fatalf("RecordSecretCheck(workspace) = %v, %v; want true, nil", ok, err)
	}
	if ok, err := s.RecordSecretCheck(ctx, "other", w.ID, recheck); err != nil || ok {
		t.Errorf("RecordSecretCheck from another org = %v, %v; want false, nil", ok, err)
	}
	got, _ = s.WorkspaceSecrets(ctx, "acme", w.ID)
	if diff := cmp.Diff([]modelgate.SealedSecret{recheck, nw.Secrets[1]}, got); diff != "" {
		t.Errorf("WorkspaceSecrets after a re-check (-want +got):\n%s", diff)
	}
}

// testCredentialChecks: checks round-trip exactly, by org and time, and a
// check does not create the org.
func testCredentialChecks(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	checks := []modelgate.CredentialCheck{
		{At: at, Org: "acme", Provider: "anthropic-api", Name: "ANTHROPIC_API_KEY", Scope: modelgate.ScopeWorkspace,
			Verdict: modelgate.VerdictRejected, Status: 401, Latency: 1234 * time.Microsecond},
		{At: at.Add(time.Second), Org: "other", Provider: "groq", Name: "GROQ_API_KEY", Scope: modelgate.ScopeOrg,
			Verdict: modelgate.VerdictUnchecked, Reason: "timeout", Latency: 5 * time.Second},
		{At: at.Add(2 * time.Second), Org: "acme", Provider: "groq", Name: "GROQ_API_KEY", Scope: modelgate.ScopeWorkspace,
			WorkspaceID: "0b6d6c2e-8f7a-4a51-9a43-6f1d3c2b1a00", Verdict: modelgate.VerdictValid, Status: 200},
	}
	appendAll := func() {
		for _, c := range checks {
			if err := s.AppendCredentialCheck(ctx, c); err != nil {
				t.Fatalf("AppendCredentialCheck: %v", err)
			}
		}
	}
	appendAll()
	got, err := s.ListCredentialChecks(ctx, "acme", at, 10)
	if err != nil {
		t.Fatalf("ListCredentialChecks: %v", err)
	}
	if diff := cmp.Diff([]modelgate.CredentialCheck{checks[0], checks[2]}, got); diff != "" {
		t.Errorf("ListCredentialChecks(acme) (-want +got):\n%s", diff)
	}
	if got, _ := s.ListCredentialChecks(ctx, "", at.Add(time.Second), 10); len(got) != 2 {
		t.Errorf("ListCredentialChecks(all, since +1s) = %d checks, want 2", len(got))
	}
	if got, _ := s.ListCredentialChecks(ctx, "", time.Time{}, 1); len(got) != 1 {
		t.Errorf("ListCredentialChecks(limit 1) = %d checks, want 1", len(got))
	}
	if _, err := s.ListCredentialChecks(ctx, "", time.Time{}, 0); modelgate.ErrorCode(err) != modelgate.EInvalidArgument {
		t.Errorf("ListCredentialChecks(limit 0) = %v, want INVALID_ARGUMENT", err)
	}
	for _, bad := range []modelgate.CredentialCheck{
		{Org: "acme", Provider: "p", Name: "N", Scope: modelgate.ScopeOrg, Verdict: "maybe"},
		{Org: "acme", Provider: "p", Name: "N", Scope: "everywhere", Verdict: modelgate.VerdictValid},
		{Org: "", Provider: "p", Name: "N", Scope: modelgate.ScopeOrg, Verdict: modelgate.VerdictValid},
	} {
		if err := s.AppendCredentialCheck(ctx, bad); modelgate.ErrorCode(err) != modelgate.EInvalidArgument {
			t.Errorf("AppendCredentialCheck(%+v) = %v, want INVALID_ARGUMENT", bad, err)
		}
	}
	if c, ok := s.(Counter); ok {
		counts, err := c.Counts(ctx)
		if err != nil {
			t.Fatalf("Counts: %v", err)
		}
		if counts["orgs"] != 0 {
			t.Errorf("orgs = %d after credential checks only, want 0: auditing must not create an org", counts["orgs"])
		}
	}
}
