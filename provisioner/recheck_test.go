package provisioner_test

import (
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/provision"
	"github.com/modelgate/modelgate/provisioner"
	"github.com/modelgate/modelgate/registry"
	"github.com/modelgate/modelgate/verify"
	"github.com/modelgate/modelgate/verify/verifytest"
)

const liveKey = "sk-canary-recheck-9b2e"

// checked gives the bundle's service and the returned options' provisioner
// a checker that talks to fake anthropic-api and groq providers.
func checked(t *testing.T, b *testBundle) (anthropic, groq *verifytest.Provider, v *verify.Checker) {
	t.Helper()
	anthropic, groq = verifytest.New(t, "x-api-key", ""), verifytest.New(t, "Authorization", "Bearer ")
	v, err := verify.New(registry.Default(), verify.Options{
		BaseURLs: map[string]string{"anthropic-api": anthropic.URL(), "groq": groq.URL()},
		RootCAs:  anthropic.Pool(), Audit: b.store, Log: zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	b.service.SetVerifier(v)
	return anthropic, groq, v
}

// A key the provider revoked after the workspace was created stops it
// before it starts: failed, INVALID_CREDENTIAL, naming the key and the
// provider, and the driver is never called. Both scopes, both stores.
func TestBackstop_KeyRevokedAfterCreation_FailsWithInvalidCredential(t *testing.T) {
	t.Parallel()
	for _, kind := range storeKinds {
		for _, scope := range []string{modelgate.ScopeWorkspace, modelgate.ScopeOrg} {
			t.Run(kind+"/"+scope, func(t *testing.T) {
				t.Parallel()
				b := newBundle(t, kind)
				anthropic, groq, v := checked(t, b)
				p := b.provisioner(t, b.store, func(o *provisioner.Options) { o.Verifier, o.VerifyMaxAge = v, time.Nanosecond })
				var w *modelgate.Workspace
				var fake *verifytest.Provider
				var name, provider string
				if scope == modelgate.ScopeWorkspace {
					fake, name, provider = anthropic, "ANTHROPIC_API_KEY", "anthropic-api"
					fake.Accept(liveKey)
					w = b.provision(t, "w", byokModel, map[string]string{name: liveKey})
				} else {
					fake, name, provider = groq, "GROQ_API_KEY", "groq"
					fake.Accept(liveKey)
					b.setOrgSecret(t, name, liveKey)
					res, err := b.service.Provision(t.Context(), caller, provision.Request{Name: "w", Runtime: "openclaw", Model: "groq:llama-3"})
					if err != nil {
						t.Fatal(err)
					}
					w = b.get(t, res.ID)
				}
				fake.Revoke(liveKey)

				runOnce(t, p)
				got := b.get(t, w.ID)
				if got.Status != modelgate.StatusFailed || got.StatusCode != modelgate.EInvalidCredential {
					t.Fatalf("workspace %s/%s, want failed/INVALID_CREDENTIAL (%s)", got.Status, got.StatusCode, got.StatusMessage)
				}
				if !strings.Contains(got.StatusMessage, name) || !strings.Contains(got.StatusMessage, provider) {
					t.Errorf("status message %q does not name %s and %s", got.StatusMessage, name, provider)
				}
				if strings.Contains(got.StatusMessage, liveKey) {
					t.Errorf("status message holds the key")
				}
				if n := b.driver.total(); n != 0 {
					t.Errorf("driver called %d times, want never", n)
				}
				if n := len(fake.Requests()); n != 2 {
					t.Errorf("provider saw %d checks, want 2 (stored, then re-checked)", n)
				}
				checks, _ := b.store.ListCredentialChecks(t.Context(), org, time.Time{}, 10)
				if len(checks) != 2 || checks[1].Verdict != modelgate.VerdictRejected || checks[1].Status != 401 {
					t.Errorf("audit trail %+v, want the stored check and the rejection", checks)
				}
				if scope == modelgate.ScopeOrg {
					// The rejected org key now counts as no key, for the gate
					// and discovery alike (both read OrgSecretNames).
					if names, _ := b.store.OrgSecretNames(t.Context(), org); len(names) != 0 {
						t.Errorf("OrgSecretNames = %v after the provider rejected the key, want none", names)
					}
					_, err := b.service.Provision(t.Context(), caller, provision.Request{Name: "again", Runtime: "openclaw", Model: "groq:llama-3"})
					if modelgate.ErrorCode(err) != modelgate.EMissingCredential {
						t.Errorf("Provision after the rejection = %v, want MISSING_BYOK_CREDENTIAL", err)
					}
				}
			})
		}
	}
}

// A key checked within VerifyMaxAge starts without another request; a
// provider that does not answer never stops a workspace.
func TestBackstop_RecentOrUnanswerableCheckStartsTheWorkspace(t *testing.T) {
	t.Parallel()
	b := newBundle(t, "sqlite")
	anthropic, _, v := checked(t, b)
	anthropic.Accept(liveKey)
	p := b.provisioner(t, b.store, func(o *provisioner.Options) { o.Verifier = v }) // default max age: 1h
	w := b.provision(t, "fresh", byokModel, map[string]string{"ANTHROPIC_API_KEY": liveKey})
	runOnce(t, p)
	if got := b.get(t, w.ID); got.Status != modelgate.StatusOnline {
		t.Fatalf("fresh key: %s (%s), want online", got.Status, got.StatusMessage)
	}
	if n := len(anthropic.Requests()); n != 1 {
		t.Errorf("provider saw %d checks, want 1: a key checked a moment ago is not asked again", n)
	}

	p = b.provisioner(t, b.store, func(o *provisioner.Options) { o.Verifier, o.VerifyMaxAge = v, time.Nanosecond })
	w = b.provision(t, "silent", byokModel, map[string]string{"ANTHROPIC_API_KEY": liveKey})
	anthropic.Answer(liveKey, 503)
	runOnce(t, p)
	if got := b.get(t, w.ID); got.Status != modelgate.StatusOnline {
		t.Fatalf("provider answering 503: %s (%s), want online", got.Status, got.StatusMessage)
	}
	if b.driver.callsOf(w.ID) != 1 {
		t.Errorf("driver calls = %d, want 1", b.driver.callsOf(w.ID))
	}
}
