package provisioner_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/gate"
	"github.com/modelgate/modelgate/provision"
	"github.com/modelgate/modelgate/registry"
	"github.com/modelgate/modelgate/secrets"
)

// holesCatalog has the shapes of issue 10's holes: "shared/…" matches two
// open arms (alpha, beta), and "both/m" is listed on a BYOK arm and, after
// it, on the platform arm.
const holesCatalog = `version: 1
default_runtime: rt
default_model: platform/free
providers:
  - name: platform
    auth_env: [MODELGATE_PLATFORM_TOKEN]
    pattern: '^platform/'
  - name: alpha
    auth_env: [ALPHA_KEY]
    pattern: '^shared/'
  - name: beta
    auth_env: [BETA_KEY]
    pattern: '^shared/'
  - name: gamma
    auth_env: [GAMMA_KEY]
    pattern: '^both/'
runtimes:
  - name: rt
    arms:
      - provider: gamma
        models: [both/m]
      - provider: platform
        models: [platform/free, both/m]
      - provider: alpha
      - provider: beta
`

// holesBundle is a bundle of kind whose gate and service use holesCatalog.
func holesBundle(t *testing.T, kind string) *testBundle {
	t.Helper()
	cat, err := registry.Load([]byte(holesCatalog), "holes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	b := newBundle(t, kind)
	b.gate = gate.New(cat, zerolog.Nop())
	b.service = provision.New(b.store, b.gate, b.keys, zerolog.Nop())
	return b
}

// sealOrgSecret writes an org secret straight to the store, as older code
// could have (no trimming, no reserved-name check).
func sealOrgSecret(t *testing.T, b *testBundle, name, value string) {
	t.Helper()
	sv, err := b.keys.Seal(secrets.ScopeOrg, org, name, []byte(value))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.SetOrgSecret(context.Background(), org, modelgate.SealedSecret{Name: name, Sealed: sv}, 0); err != nil {
		t.Fatal(err)
	}
}

// Hole 1: the backstop refused what the gate allowed. An id that two open
// arms match is settled by the org's BETA_KEY: Check allows it, and the
// backstop must start it with beta, not fail it as ambiguous.
func TestBackstop_Hole1_AmbiguousIdSettledByOrgKeyStarts(t *testing.T) {
	t.Parallel()
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			b := holesBundle(t, kind)
			p := b.provisioner(t, b.store, nil)
			b.setOrgSecret(t, "BETA_KEY", "beta-org-value")
			res, err := b.service.Provision(context.Background(), caller, provision.Request{Name: "w", Model: "shared/x"})
			if err != nil || res.Provider != "beta" || res.CredentialScope != modelgate.ScopeOrg {
				t.Fatalf("Provision = %+v, %v; want beta by org key", res, err)
			}
			runOnce(t, p)
			got := b.get(t, res.ID)
			if got.Status != modelgate.StatusOnline {
				t.Fatalf("backstop: %s %s %q, want online", got.Status, got.StatusCode, got.StatusMessage)
			}
			if seen := b.driver.seen[res.ID]; seen.Provider != "beta" || b.driver.creds[res.ID]["BETA_KEY"] != "beta-org-value" {
				t.Fatalf("driver saw provider %s creds %v", seen.Provider, keysOf(b.driver.creds[res.ID]))
			}
		})
	}
}

// Hole 2: a made-up secret named like the platform's token switched "both/m"
// to platform billing. Refused as an argument, and a stored row with such a
// name (written by older code, workspace or org) does not count at the
// backstop: the id stays gamma's and fails for gamma's missing key.
func TestBackstop_Hole2_ReservedNameNeverCounts(t *testing.T) {
	t.Parallel()
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			b := holesBundle(t, kind)
			p := b.provisioner(t, b.store, nil)
			ctx := context.Background()
			_, err := b.service.Provision(ctx, caller, provision.Request{Name: "w", Model: "both/m",
				Secrets: map[string]string{"MODELGATE_PLATFORM_TOKEN": "made-up"}})
			if modelgate.ErrorCode(err) != modelgate.EInvalidArgument || !strings.Contains(err.Error(), "MODELGATE_PLATFORM_TOKEN") {
				t.Fatalf("Provision with a reserved workspace secret = %v, want INVALID_ARGUMENT naming it", err)
			}
			if _, err := b.service.SetOrgSecret(ctx, caller, "MODELGATE_PLATFORM_TOKEN", "made-up"); modelgate.ErrorCode(err) != modelgate.EInvalidArgument {
				t.Fatalf("SetOrgSecret of a reserved name = %v, want INVALID_ARGUMENT", err)
			}

			// Rows written before the rule: the gate must not count them.
			sealOrgSecret(t, b, "MODELGATE_PLATFORM_TOKEN", "made-up")
			w := modelgate.Workspace{Org: org, Name: "old", Tier: 3, Runtime: "rt", Model: "both/m", Provider: "platform",
				PlatformBilled: true, CredentialScope: modelgate.ScopePlatform}
			w.ID = "5d3c1f4e-8a0b-4f7e-9c51-0d2a6b7e9f10"
			sv, err := b.keys.Seal(secrets.ScopeWorkspace, org+"/"+w.ID, "MODELGATE_PLATFORM_TOKEN", []byte("made-up"))
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := b.store.CreateWorkspace(ctx, modelgate.NewWorkspace{Workspace: w,
				Secrets: []modelgate.SealedSecret{{Name: "MODELGATE_PLATFORM_TOKEN", Sealed: sv}}}); err != nil {
				t.Fatal(err)
			}
			runOnce(t, p)
			got := b.get(t, w.ID)
			if got.Status != modelgate.StatusFailed || got.StatusCode != modelgate.EMissingCredential || !strings.Contains(got.StatusMessage, "gamma") {
				t.Fatalf("backstop: %s %s %q, want failed MISSING_BYOK_CREDENTIAL for gamma", got.Status, got.StatusCode, got.StatusMessage)
			}
			if b.driver.total() != 0 {
				t.Fatal("driver called")
			}
		})
	}
}

// Hole 3: a key of spaces passed. Stored blank values (workspace or org,
// written by older code) never satisfy the backstop; a padded value reaches
// the driver trimmed.
func TestBackstop_Hole3_BlankStoredValueNeverSatisfies(t *testing.T) {
	t.Parallel()
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			b := holesBundle(t, kind)
			p := b.provisioner(t, b.store, nil)
			ctx := context.Background()
			sealOrgSecret(t, b, "GAMMA_KEY", "   ")
			blank := modelgate.Workspace{ID: "6e4d2a5f-9b1c-4a8f-8d62-1e3b7c8f0a21", Org: org, Name: "blank", Tier: 3, Runtime: "rt",
				Model: "both/m", Provider: "gamma", CredentialScope: modelgate.ScopeWorkspace}
			sv, err := b.keys.Seal(secrets.ScopeWorkspace, org+"/"+blank.ID, "GAMMA_KEY", []byte(" \t\n"))
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := b.store.CreateWorkspace(ctx, modelgate.NewWorkspace{Workspace: blank,
				Secrets: []modelgate.SealedSecret{{Name: "GAMMA_KEY", Sealed: sv}}}); err != nil {
				t.Fatal(err)
			}
			res, err := b.service.Provision(ctx, caller, provision.Request{Name: "padded", Model: "both/m",
				Secrets: map[string]string{"GAMMA_KEY": "  gamma-value \n"}})
			if err != nil {
				t.Fatal(err)
			}
			runOnce(t, p)
			if got := b.get(t, blank.ID); got.Status != modelgate.StatusFailed || got.StatusCode != modelgate.EMissingCredential {
				t.Fatalf("blank stored values: %s %s %q, want failed MISSING_BYOK_CREDENTIAL", got.Status, got.StatusCode, got.StatusMessage)
			}
			if got := b.get(t, res.ID); got.Status != modelgate.StatusOnline || b.driver.creds[res.ID]["GAMMA_KEY"] != "gamma-value" {
				t.Fatalf("padded value: %s, driver got %q; want online with the trimmed value", got.Status, b.driver.creds[res.ID]["GAMMA_KEY"])
			}
		})
	}
}

// movesCatalog lists "both/m" on the platform arm and, after it, on delta's:
// an org key of delta's moves the id to delta (§2.3), its deletion moves it
// back to the platform. "shared/…" matches two open arms, settled by a key.
const movesCatalog = `version: 1
default_runtime: rt
default_model: platform/free
providers:
  - name: platform
    auth_env: [MODELGATE_PLATFORM_TOKEN]
    pattern: '^platform/'
  - name: alpha
    auth_env: [ALPHA_KEY]
    pattern: '^shared/'
  - name: beta
    auth_env: [BETA_KEY]
    pattern: '^shared/'
  - name: delta
    auth_env: [DELTA_KEY]
    pattern: '^both/'
runtimes:
  - name: rt
    arms:
      - provider: platform
        models: [platform/free, both/m]
      - provider: delta
        models: [both/m]
      - provider: alpha
      - provider: beta
`

// The backstop starts what the gate allows with the credentials of the
// moment (§6), which can be another provider than the creation's, even
// platform billing; the workspace must then say what it was started with
// (or, when the driver failed, what it was tried with), not what it was
// created with.
func TestBackstop_WorkspaceRecordsTheProviderItStartedWith(t *testing.T) {
	t.Parallel()
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			cat, err := registry.Load([]byte(movesCatalog), "moves.yaml")
			if err != nil {
				t.Fatal(err)
			}
			b := newBundle(t, kind)
			b.gate = gate.New(cat, zerolog.Nop())
			b.service = provision.New(b.store, b.gate, b.keys, zerolog.Nop())
			p := b.provisioner(t, b.store, nil)
			ctx := context.Background()

			b.setOrgSecret(t, "DELTA_KEY", "delta-value")
			b.setOrgSecret(t, "BETA_KEY", "beta-value")
			toPlatform := b.provision(t, "to-platform", "both/m", nil)
			toAlpha := b.provision(t, "to-alpha", "shared/x", nil)
			failsOnPlatform := b.provision(t, "fails-on-platform", "both/m", nil)
			b.driver.fn = func(_ context.Context, w *modelgate.Workspace, _ map[string]string) error {
				if w.ID == failsOnPlatform.ID {
					return errors.New("no capacity")
				}
				return nil
			}
			if toPlatform.Provider != "delta" || toAlpha.Provider != "beta" || toAlpha.CredentialScope != modelgate.ScopeOrg {
				t.Fatalf("created with %s and %s (%s), want delta and beta (org)", toPlatform.Provider, toAlpha.Provider, toAlpha.CredentialScope)
			}
			for _, name := range []string{"DELTA_KEY", "BETA_KEY"} {
				if _, err := b.store.DeleteOrgSecret(ctx, org, name); err != nil {
					t.Fatal(err)
				}
			}
			b.setOrgSecret(t, "ALPHA_KEY", "alpha-value")
			runOnce(t, p)

			for _, c := range []struct {
				w       *modelgate.Workspace
				status  string
				want    string
				billed  bool
				scope   string
				credKey string
			}{
				{toPlatform, modelgate.StatusOnline, "platform", true, modelgate.ScopePlatform, ""},
				{toAlpha, modelgate.StatusOnline, "alpha", false, modelgate.ScopeOrg, "ALPHA_KEY"},
				{failsOnPlatform, modelgate.StatusFailed, "platform", true, modelgate.ScopePlatform, ""},
			} {
				got := b.get(t, c.w.ID)
				if got.Status != c.status {
					t.Fatalf("%s: %s %s %q, want %s", c.w.Name, got.Status, got.StatusCode, got.StatusMessage, c.status)
				}
				if seen := b.driver.seen[c.w.ID]; seen.Provider != c.want {
					t.Fatalf("%s: driver started it with %s, want %s", c.w.Name, seen.Provider, c.want)
				}
				if got.Provider != c.want || got.PlatformBilled != c.billed || got.CredentialScope != c.scope {
					t.Errorf("%s: the row says provider %s, platform_billed %v, scope %s; the driver started it with %s, %v, %s",
						c.w.Name, got.Provider, got.PlatformBilled, got.CredentialScope, c.want, c.billed, c.scope)
				}
				if c.credKey != "" && b.driver.creds[c.w.ID][c.credKey] == "" {
					t.Errorf("%s: driver got %v, want %s", c.w.Name, keysOf(b.driver.creds[c.w.ID]), c.credKey)
				}
			}
		})
	}
}
