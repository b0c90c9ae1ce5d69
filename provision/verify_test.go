package provision_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/provision"
	"github.com/modelgate/modelgate/registry"
	"github.com/modelgate/modelgate/verify"
	"github.com/modelgate/modelgate/verify/verifytest"
)

// fakes are the providers the live-check tests talk to: anthropic-api
// (workspace keys of claude-sonnet-4-6) and groq (GROQ_API_KEY, a name only
// groq accepts, so org secrets of it are checked).
type fakes struct {
	anthropic, groq *verifytest.Provider
}

// withChecks makes b's service check keys with fake providers.
func withChecks(t *testing.T, b testBundle, o verify.Options) fakes {
	t.Helper()
	f := fakes{anthropic: verifytest.New(t, "x-api-key", ""), groq: verifytest.New(t, "Authorization", "Bearer ")}
	o.BaseURLs = map[string]string{"anthropic-api": f.anthropic.URL(), "groq": f.groq.URL()}
	o.RootCAs = f.anthropic.Pool() // httptest servers share one CA
	o.Audit, o.Log = b.store, zerolog.New(b.logs)
	c, err := verify.New(registry.Default(), o)
	if err != nil {
		t.Fatal(err)
	}
	b.svc.SetVerifier(c)
	return f
}

// noCanary fails t if the canary appears in the logs, the audit trail
// (decisions and checks) or err.
func noCanary(t *testing.T, b testBundle, err error) {
	t.Helper()
	if strings.Contains(b.logs.String(), canary) {
		t.Errorf("the key appears in the logs")
	}
	if err != nil && strings.Contains(err.Error(), canary) {
		t.Errorf("the key appears in the error")
	}
	checks, _ := b.store.ListCredentialChecks(t.Context(), "", time.Time{}, 100)
	audit, _ := b.store.ListAudit(t.Context(), "", time.Time{}, 100)
	if js, _ := json.Marshal([]any{checks, audit}); strings.Contains(string(js), canary) {
		t.Errorf("the key appears in the audit trail")
	}
}

func wsRequest(name string) provision.Request {
	return provision.Request{Name: name, Model: "claude-sonnet-4-6", Secrets: map[string]string{"ANTHROPIC_API_KEY": canary}}
}

func TestProvision_WorkspaceKeyTheProviderAccepts_IsStoredWithTheTimeOfItsCheck(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b testBundle) {
		f := withChecks(t, b, verify.Options{})
		f.anthropic.Accept(canary)
		before := time.Now().Add(-time.Second)
		res, err := b.svc.Provision(t.Context(), b.caller, wsRequest("w"))
		if err != nil {
			t.Fatalf("Provision: %v", err)
		}
		ws, err := b.store.WorkspaceSecrets(t.Context(), "acme", res.ID)
		if err != nil || len(ws) != 1 {
			t.Fatalf("WorkspaceSecrets = %v, %v", ws, err)
		}
		if ws[0].CheckedAt.Before(before) || !ws[0].RejectedAt.IsZero() {
			t.Errorf("stored secret checked at %v, rejected at %v; want the check's time and no rejection", ws[0].CheckedAt, ws[0].RejectedAt)
		}
		if seen := f.anthropic.Requests(); len(seen) != 1 || seen[0].Key != canary {
			t.Errorf("provider saw %d requests, want one with the key", len(seen))
		}
		noCanary(t, b, nil)
	})
}

// A key the provider rejects (401 or 403) is refused with
// INVALID_CREDENTIAL and creates nothing, dry run or not, on both stores.
func TestProvision_WorkspaceKeyTheProviderRejects_CreatesNothing(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		for _, dry := range []bool{false, true} {
			t.Run(http.StatusText(status)+map[bool]string{true: " dry run"}[dry], func(t *testing.T) {
				t.Parallel()
				eachStore(t, func(t *testing.T, b testBundle) {
					f := withChecks(t, b, verify.Options{})
					f.anthropic.Answer(canary, status)
					before := b.counts(t)
					req := wsRequest("w")
					req.DryRun = dry
					_, err := b.svc.Provision(t.Context(), b.caller, req)
					var me *modelgate.Error
					if modelgate.ErrorCode(err) != modelgate.EInvalidCredential {
						t.Fatalf("Provision = %v, want INVALID_CREDENTIAL", err)
					}
					me = err.(*modelgate.Error)
					if me.Details["provider"] != "anthropic-api" || me.Details["name"] != "ANTHROPIC_API_KEY" || me.Details["provider_status"] != status {
						t.Errorf("details = %v", me.Details)
					}
					after := b.counts(t)
					for table, n := range after {
						grew := n - before[table]
						want := int64(0)
						if table == "audit" || table == "credential_checks" {
							want = 1 // the decision and the check: the only writes of a refusal
						}
						if grew != want {
							t.Errorf("%s grew by %d, want %d", table, grew, want)
						}
					}
					audit, _ := b.store.ListAudit(t.Context(), "acme", time.Time{}, 10)
					if len(audit) != 1 || audit[0].Code != modelgate.EInvalidCredential || audit[0].Provider != "anthropic-api" {
						t.Errorf("audit = %+v, want the INVALID_CREDENTIAL decision", audit)
					}
					noCanary(t, b, err)
				})
			})
		}
	}
}

// No verdict is never a refusal: 429, 500, a timeout, a refused
// connection and a redirect to another host create the workspace with its
// key stored unchecked, and the redirect's target never gets the key.
func TestProvision_NoVerdictStoresTheKeyUnchecked(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// arrange makes the fake provider give no verdict; it returns a
		// check run after the call, for what else must hold.
		arrange func(t *testing.T, f fakes) (after func(t *testing.T))
	}{
		{"429", func(t *testing.T, f fakes) func(*testing.T) { f.anthropic.Answer(canary, 429); return nil }},
		{"500", func(t *testing.T, f fakes) func(*testing.T) { f.anthropic.Answer(canary, 500); return nil }},
		{"timeout", func(t *testing.T, f fakes) func(*testing.T) {
			_, release := f.anthropic.Hold()
			t.Cleanup(release)
			return nil
		}},
		{"connection refused", func(t *testing.T, f fakes) func(*testing.T) { f.anthropic.Close(); return nil }},
		{"redirect to another host", func(t *testing.T, f fakes) func(*testing.T) {
			target := verifytest.New(t, "x-api-key", "")
			target.Accept(canary)
			f.anthropic.RedirectTo(target.URL() + "/v1/models")
			return func(t *testing.T) {
				if n := len(target.Requests()); n != 0 {
					t.Errorf("the redirect target received %d requests, want none", n)
				}
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			eachStore(t, func(t *testing.T, b testBundle) {
				f := withChecks(t, b, verify.Options{Timeout: 300 * time.Millisecond})
				after := tc.arrange(t, f)
				res, err := b.svc.Provision(t.Context(), b.caller, wsRequest("w"))
				if err != nil {
					t.Fatalf("Provision = %v, want the workspace created", err)
				}
				ws, _ := b.store.WorkspaceSecrets(t.Context(), "acme", res.ID)
				if len(ws) != 1 || !ws[0].CheckedAt.IsZero() {
					t.Errorf("stored secrets %+v, want the key unchecked", ws)
				}
				checks, _ := b.store.ListCredentialChecks(t.Context(), "acme", time.Time{}, 10)
				if len(checks) != 1 || checks[0].Verdict != modelgate.VerdictUnchecked || checks[0].Reason == "" {
					t.Errorf("audit trail %+v, want one unchecked check with its reason", checks)
				}
				if after != nil {
					after(t)
				}
				noCanary(t, b, nil)
			})
		})
	}
}

// A platform-billed model never waits for a check, whatever secrets the
// call carries; with checks off nothing is sent at all.
func TestProvision_SendsNothingForPlatformModelsOrWithChecksOff(t *testing.T) {
	t.Parallel()
	b := setup(t, "sqlite")
	f := withChecks(t, b, verify.Options{})
	req := provision.Request{Name: "p", Model: "moonshot/kimi-k2.6", Secrets: map[string]string{"ANTHROPIC_API_KEY": canary}}
	if _, err := b.svc.Provision(t.Context(), b.caller, req); err != nil {
		t.Fatal(err)
	}
	if n := len(f.anthropic.Requests()); n != 0 {
		t.Errorf("platform model: provider saw %d requests, want none", n)
	}

	off := setup(t, "sqlite")
	f = withChecks(t, off, verify.Options{Off: true})
	if _, err := off.svc.Provision(t.Context(), off.caller, wsRequest("w")); err != nil {
		t.Fatalf("Provision with checks off = %v, want created (the fake would reject)", err)
	}
	if _, err := off.svc.SetOrgSecret(t.Context(), off.caller, "GROQ_API_KEY", canary); err != nil {
		t.Fatalf("SetOrgSecret with checks off = %v, want stored", err)
	}
	if n := len(f.anthropic.Requests()) + len(f.groq.Requests()); n != 0 {
		t.Errorf("checks off: providers saw %d requests, want none", n)
	}
}

func TestSetOrgSecret_KeyTheProviderRejects_IsNotStored(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			t.Parallel()
			eachStore(t, func(t *testing.T, b testBundle) {
				f := withChecks(t, b, verify.Options{})
				f.groq.Answer(canary, status)
				before := b.counts(t)
				_, err := b.svc.SetOrgSecret(t.Context(), b.caller, "GROQ_API_KEY", canary)
				if modelgate.ErrorCode(err) != modelgate.EInvalidCredential {
					t.Fatalf("SetOrgSecret = %v, want INVALID_CREDENTIAL", err)
				}
				after := b.counts(t)
				for table, n := range after {
					want := int64(0)
					if table == "credential_checks" {
						want = 1
					}
					if n-before[table] != want {
						t.Errorf("%s grew by %d, want %d", table, n-before[table], want)
					}
				}
				if seen := f.groq.Requests(); len(seen) != 1 || seen[0].Key != canary || seen[0].Path != "/openai/v1/models" {
					t.Errorf("groq saw %+v, want one check with the key", len(seen))
				}
				noCanary(t, b, err)
			})
		})
	}
}

func TestSetOrgSecret_StoresAValidKeyWithItsCheckTimeAndAnUncheckedOneWithout(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b testBundle) {
		f := withChecks(t, b, verify.Options{Timeout: 200 * time.Millisecond})
		f.groq.Accept(canary)
		if _, err := b.svc.SetOrgSecret(t.Context(), b.caller, "GROQ_API_KEY", canary); err != nil {
			t.Fatal(err)
		}
		// ANTHROPIC_API_KEY is ambiguous as an org secret: never sent.
		if _, err := b.svc.SetOrgSecret(t.Context(), b.caller, "ANTHROPIC_API_KEY", canary+"-a"); err != nil {
			t.Fatal(err)
		}
		got, _ := b.store.OrgSecrets(t.Context(), "acme")
		if len(got) != 2 || !got[0].CheckedAt.IsZero() || got[1].CheckedAt.IsZero() {
			t.Errorf("OrgSecrets = %+v; want ANTHROPIC_API_KEY unchecked and GROQ_API_KEY checked", got)
		}
		if n := len(f.anthropic.Requests()); n != 0 {
			t.Errorf("anthropic saw %d requests for an ambiguous org secret, want none", n)
		}
		// A provider that does not answer: stored unchecked, not refused.
		_, release := f.groq.Hold()
		defer release()
		if _, err := b.svc.SetOrgSecret(t.Context(), b.caller, "GROQ_API_KEY", canary+"-2"); err != nil {
			t.Fatalf("SetOrgSecret with the provider silent = %v, want stored", err)
		}
		got, _ = b.store.OrgSecrets(t.Context(), "acme")
		if len(got) != 2 || !got[1].CheckedAt.IsZero() {
			t.Errorf("after a timeout: %+v, want GROQ_API_KEY stored unchecked", got)
		}
		noCanary(t, b, nil)
	})
}

// TestOffered_AKeyTheProviderRejectedIsNoKey (issue 15): discovery counts a
// stored key that a provider rejected on a later check as no key, as the
// gate does; replacing the value makes it count again.
func TestOffered_AKeyTheProviderRejectedIsNoKey(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b testBundle) {
		ctx := t.Context()
		if _, err := b.svc.SetOrgSecret(ctx, b.caller, "ANTHROPIC_API_KEY", canary); err != nil {
			t.Fatal(err)
		}
		available := func() bool {
			t.Helper()
			offer, err := b.svc.Offered(ctx, b.caller, "claude-code", registry.Filter{Provider: "anthropic-api"})
			if err != nil || len(offer.Arms) != 1 {
				t.Fatalf("Offered = %+v, %v; want the anthropic-api arm", offer, err)
			}
			return offer.Arms[0].CredentialAvailable
		}
		if !available() {
			t.Fatal("a stored key is not counted")
		}
		sealed, err := b.store.OrgSecrets(ctx, "acme")
		if err != nil || len(sealed) != 1 {
			t.Fatalf("OrgSecrets = %v, %v", sealed, err)
		}
		rejected := sealed[0]
		rejected.CheckedAt, rejected.RejectedAt = time.Now(), time.Now()
		if ok, err := b.store.RecordSecretCheck(ctx, "acme", "", rejected); err != nil || !ok {
			t.Fatalf("RecordSecretCheck = %v, %v", ok, err)
		}
		if available() {
			t.Error("a key the provider rejected still counts as available")
		}
		if _, err := b.svc.Provision(ctx, b.caller, provision.Request{Name: "w", Runtime: "claude-code", Model: "claude-sonnet-4-6"}); modelgate.ErrorCode(err) != modelgate.EMissingCredential {
			t.Errorf("provision with only a rejected key = %v, want MISSING_BYOK_CREDENTIAL", err)
		}
		if _, err := b.svc.SetOrgSecret(ctx, b.caller, "ANTHROPIC_API_KEY", canary+"-new"); err != nil {
			t.Fatal(err)
		}
		if !available() {
			t.Error("a new value did not clear the rejection")
		}
	})
}
