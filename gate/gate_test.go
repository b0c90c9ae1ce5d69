package gate_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/gate"
	"github.com/modelgate/modelgate/registry"
	"github.com/rs/zerolog"
)

// lookup is an in-memory org secret-name lookup that counts its queries.
type lookup struct {
	names []string
	err   error
	calls atomic.Int32
}

func (l *lookup) OrgSecretNames(context.Context) ([]string, error) {
	l.calls.Add(1)
	return l.names, l.err
}

type testBundle struct {
	gate *gate.Gate
	logs *bytes.Buffer
}

func setup(t *testing.T) testBundle {
	t.Helper()
	var logs bytes.Buffer
	return testBundle{gate: gate.New(registry.Default(), zerolog.New(&logs)), logs: &logs}
}

func ws(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

// every credential name of the default catalog, for the "any credentials" rows.
func allNames() []string {
	var names []string
	for _, p := range registry.Default().Providers() {
		for _, n := range p.AuthEnv {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	return names
}

// TestGate_CatalogCases runs every row of CATALOG.md's cases table through the gate.
func TestGate_CatalogCases(t *testing.T) {
	t.Parallel()
	type want struct {
		code     string   // "" = allowed
		provider string   // derived provider (allowed or MISSING_BYOK_CREDENTIAL)
		scope    string   // credential scope when allowed
		authEnv  []string // MISSING_BYOK_CREDENTIAL: names that must be listed
		suggest  string   // UNREGISTERED: a suggestion that must be listed
		queries  int32    // org-secret-name queries; -1 = not checked
	}
	cases := []struct {
		name    string
		runtime string
		model   string
		ws      map[string]string
		org     []string
		any     bool // "any" credentials: run with none and with every name, same outcome
		want    want
	}{
		{name: "platform model needs no key and no query", runtime: "claude-code", model: "moonshot/kimi-k2.6",
			want: want{provider: "platform", scope: modelgate.ScopePlatform, queries: 0}},
		{name: "BYOK without credential is refused", runtime: "claude-code", model: "claude-sonnet-4-6",
			want: want{code: modelgate.EMissingCredential, provider: "anthropic-api", authEnv: []string{"ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"}, queries: 1}},
		{name: "org key allows with scope org", runtime: "claude-code", model: "claude-sonnet-4-6", org: []string{"ANTHROPIC_API_KEY"},
			want: want{provider: "anthropic-api", scope: modelgate.ScopeOrg, queries: 1}},
		{name: "workspace key allows with no query", runtime: "claude-code", model: "claude-sonnet-4-6", ws: ws("ANTHROPIC_AUTH_TOKEN", "tok"),
			want: want{provider: "anthropic-api", scope: modelgate.ScopeWorkspace, queries: 0}},
		{name: "typo is unregistered with a suggestion", runtime: "claude-code", model: "claude-sonet-4-6", any: true,
			want: want{code: modelgate.EUnregisteredModel, suggest: "claude-sonnet-4-6", queries: 0}},
		{name: "platform namespace not listed on claude-code", runtime: "claude-code", model: "anthropic/claude-haiku-4-5", any: true,
			want: want{code: modelgate.EUnregisteredModel, queries: 0}},
		{name: "closed arm refuses an unlisted id", runtime: "claude-code", model: "claude-sonnet-4-7", any: true,
			want: want{code: modelgate.EUnregisteredModel, queries: 0}},
		{name: "codex unknown version suggests gpt-5.5", runtime: "codex", model: "gpt-5.6", any: true,
			want: want{code: modelgate.EUnregisteredModel, suggest: "gpt-5.5", queries: 0}},
		{name: "open arm by pattern with org key", runtime: "hermes", model: "openrouter/anthropic/claude-3", org: []string{"OPENROUTER_API_KEY"},
			want: want{provider: "openrouter", scope: modelgate.ScopeOrg, queries: 1}},
		{name: "no open arm matches on hermes", runtime: "hermes", model: "MiniMax-M2.7", any: true,
			want: want{code: modelgate.EUnregisteredModel, queries: 0}},
		{name: "groq by pattern without key", runtime: "openclaw", model: "groq:llama-3",
			want: want{code: modelgate.EMissingCredential, provider: "groq", authEnv: []string{"GROQ_API_KEY"}, queries: 1}},
		{name: "zai by pattern with org key", runtime: "claude-code", model: "glm-4.6", org: []string{"GLM_API_KEY"},
			want: want{provider: "zai", scope: modelgate.ScopeOrg, queries: 1}},
		{name: "slash form is BYOK on hermes (anthropic)", runtime: "hermes", model: "anthropic/claude-opus-4-7",
			want: want{code: modelgate.EMissingCredential, provider: "byok-anthropic", authEnv: []string{"ANTHROPIC_API_KEY"}, queries: 1}},
		{name: "slash form is BYOK on hermes (minimax)", runtime: "hermes", model: "minimax/MiniMax-M2.7",
			want: want{code: modelgate.EMissingCredential, provider: "byok-minimax", authEnv: []string{"MINIMAX_API_KEY"}, queries: 1}},
		{name: "codex id on two arms names both arms' keys", runtime: "codex", model: "gpt-5.5",
			want: want{code: modelgate.EMissingCredential, provider: "openai-subscription", authEnv: []string{"CODEX_AUTH_JSON", "CODEX_CHATGPT_AUTH_JSON", "OPENAI_API_KEY"}, queries: 1}},
		{name: "org key moves the model to the second arm", runtime: "codex", model: "gpt-5.5", org: []string{"OPENAI_API_KEY"},
			want: want{provider: "openai-api", scope: modelgate.ScopeOrg, queries: 1}},
		{name: "codex platform id", runtime: "codex", model: "openai/gpt-5.4",
			want: want{provider: "platform", scope: modelgate.ScopePlatform, queries: 0}},
		{name: "google-adk platform id", runtime: "google-adk", model: "platform:gemini-2.5-pro",
			want: want{provider: "platform", scope: modelgate.ScopePlatform, queries: 0}},
		{name: "unknown runtime", runtime: "langgraph", model: "anything", any: true,
			want: want{code: modelgate.ERuntimeUnsupported, queries: 0}},
		{name: "empty workspace secret value is invalid", runtime: "claude-code", model: "claude-sonnet-4-6", ws: ws("ANTHROPIC_API_KEY", ""),
			want: want{code: modelgate.EInvalidArgument, queries: 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			variants := []struct {
				ws  map[string]string
				org []string
			}{{tc.ws, tc.org}}
			if tc.any {
				every := map[string]string{}
				for _, n := range allNames() {
					// A reserved name is refused as an argument; as an org
					// name it is kept, and must not count.
					if !registry.Default().Reserved(n) {
						every[n] = "v-" + n
					}
				}
				variants = append(variants, struct {
					ws  map[string]string
					org []string
				}{every, allNames()})
			}
			for _, v := range variants {
				b := setup(t)
				l := &lookup{names: v.org}
				dec, err := b.gate.Check(t.Context(), gate.Request{Org: "acme", Runtime: tc.runtime, Model: tc.model, WorkspaceSecrets: v.ws}, l)
				if tc.want.code == "" {
					if err != nil {
						t.Fatalf("Check: %v, want allowed", err)
					}
					if dec.Provider != tc.want.provider || dec.CredentialScope != tc.want.scope {
						t.Fatalf("allowed with provider %q scope %q, want %q %q", dec.Provider, dec.CredentialScope, tc.want.provider, tc.want.scope)
					}
					if dec.PlatformBilled != (tc.want.provider == registry.PlatformProvider) {
						t.Fatalf("PlatformBilled = %v for provider %q", dec.PlatformBilled, dec.Provider)
					}
				} else {
					var e *modelgate.Error
					if !errors.As(err, &e) || e.Code != tc.want.code {
						t.Fatalf("Check error = %v, want code %s", err, tc.want.code)
					}
					if tc.want.provider != "" && e.Details["provider"] != tc.want.provider {
						t.Fatalf("provider detail = %v, want %s", e.Details["provider"], tc.want.provider)
					}
					for _, n := range tc.want.authEnv {
						if got, _ := e.Details["auth_env"].([]string); !slices.Contains(got, n) {
							t.Fatalf("auth_env %v lacks %s", got, n)
						}
						if !strings.Contains(e.Message, n) {
							t.Fatalf("message %q does not name %s", e.Message, n)
						}
					}
					if tc.want.suggest != "" {
						if got, _ := e.Details["suggestions"].([]string); !slices.Contains(got, tc.want.suggest) {
							t.Fatalf("suggestions %v lack %s", got, tc.want.suggest)
						}
					}
				}
				if tc.want.queries >= 0 && len(v.org) == len(tc.org) && l.calls.Load() != tc.want.queries {
					t.Fatalf("org secret-name queries = %d, want %d", l.calls.Load(), tc.want.queries)
				}
			}
		})
	}
}

func TestGate_MissingCredentialNamesEverythingToFixIt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, err := b.gate.Check(t.Context(), gate.Request{Runtime: "claude-code", Model: "claude-sonnet-4-6"}, &lookup{})
	var e *modelgate.Error
	if !errors.As(err, &e) {
		t.Fatalf("want *modelgate.Error, got %v", err)
	}
	for _, want := range []string{"claude-sonnet-4-6", "anthropic-api", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "workspace secret", "org secret", "moonshot/kimi-k2.6"} {
		if !strings.Contains(e.Message, want) {
			t.Errorf("message lacks %q: %s", want, e.Message)
		}
	}
	if got := e.Details["scopes_checked"]; !slices.Equal(got.([]string), []string{"workspace", "org"}) {
		t.Errorf("scopes_checked = %v", got)
	}
	if e.Details["platform_default_model"] != "moonshot/kimi-k2.6" || e.Details["runtime"] != "claude-code" || e.Details["model"] != "claude-sonnet-4-6" {
		t.Errorf("details = %v", e.Details)
	}
}

func TestGate_PlatformDefaultIsPlatformBilledOnEachRuntime(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cat := registry.Default()
	for _, rt := range cat.Runtimes() {
		def := b.gate.PlatformDefault(rt)
		if def == "" {
			t.Errorf("%s: no platform default", rt)
			continue
		}
		d, err := cat.Derive(rt, def, nil)
		if err != nil || !d.Provider.PlatformBilled() {
			t.Errorf("%s: default %q is not platform-billed (%v)", rt, def, err)
		}
	}
	if got := b.gate.PlatformDefault("codex"); got != "openai/gpt-5.4" {
		t.Errorf("codex platform default = %q, want openai/gpt-5.4 (the catalog default is not offered on codex)", got)
	}
}

func TestGate_FailOpenWhenOrgLookupFails(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := &lookup{err: errors.New("connection refused")}
	dec, err := b.gate.Check(t.Context(), gate.Request{Org: "acme", Runtime: "claude-code", Model: "claude-sonnet-4-6"}, l)
	if err != nil {
		t.Fatalf("Check: %v, want allowed (fail-open)", err)
	}
	if dec.CredentialScope != modelgate.ScopeUnverified || dec.Provider != "anthropic-api" {
		t.Fatalf("decision = %+v, want unverified anthropic-api", dec)
	}
	if !strings.Contains(b.logs.String(), `"level":"warn"`) || !strings.Contains(b.logs.String(), "fail-open") {
		t.Fatalf("no fail-open warning logged: %s", b.logs.String())
	}
}

func TestGate_PreflightDoesNotFailOpenAndIgnoresEmptyValues(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req := gate.Request{Runtime: "claude-code", Model: "claude-sonnet-4-6"}
	_, err := b.gate.Preflight(t.Context(), req, &lookup{err: errors.New("connection refused")})
	if err == nil || modelgate.ErrorCode(err) != modelgate.EInternal {
		t.Fatalf("Preflight with a failing lookup = %v, want the lookup's error (no fail-open)", err)
	}
	_, err = b.gate.Preflight(t.Context(), gate.Request{Runtime: "claude-code", Model: "claude-sonnet-4-6",
		WorkspaceSecrets: map[string]string{"ANTHROPIC_API_KEY": "  "}}, &lookup{})
	if modelgate.ErrorCode(err) != modelgate.EMissingCredential {
		t.Fatalf("Preflight with a blank stored workspace value = %v, want MISSING_BYOK_CREDENTIAL", err)
	}
	dec, err := b.gate.Preflight(t.Context(), req, &lookup{names: []string{"ANTHROPIC_API_KEY"}})
	if err != nil || dec.CredentialScope != modelgate.ScopeOrg || dec.Name != "ANTHROPIC_API_KEY" {
		t.Fatalf("Preflight = %+v, %v", dec, err)
	}
}

func TestGate_InvalidWorkspaceSecrets(t *testing.T) {
	t.Parallel()
	many := map[string]string{}
	for i := 0; i <= gate.MaxWorkspaceSecrets; i++ {
		many["K"+strings.Repeat("X", i)] = "v"
	}
	cases := map[string]map[string]string{
		"lower-case name":  ws("anthropic_api_key", "v"),
		"dash in name":     ws("ANTHROPIC-KEY", "v"),
		"leading digit":    ws("1KEY", "v"),
		"empty value":      ws("ANTHROPIC_API_KEY", ""),
		"too many":         many,
		"invalid utf-8":    ws("ANTHROPIC_API_KEY", "\xff"),
		"value too large":  ws("ANTHROPIC_API_KEY", strings.Repeat("a", gate.MaxSecretValueBytes+1)),
		"name of 129":      ws("A"+strings.Repeat("B", 128), "v"),
		"empty name":       ws("", "v"),
		"name with spaces": ws("MY KEY", "v"),
	}
	for name, secrets := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			_, err := b.gate.Check(t.Context(), gate.Request{Runtime: "claude-code", Model: "moonshot/kimi-k2.6", WorkspaceSecrets: secrets}, &lookup{})
			if modelgate.ErrorCode(err) != modelgate.EInvalidArgument {
				t.Fatalf("Check = %v, want INVALID_ARGUMENT", err)
			}
			for _, v := range secrets {
				if len(v) > 3 && strings.Contains(err.Error(), v) {
					t.Fatalf("error echoes a secret value")
				}
			}
		})
	}
}

// The hard cap applies to a value as given, before it is trimmed, so every
// path that stores a secret refuses the same values with the same message,
// and a huge value costs no more than its length to refuse. Under the cap
// a padded value is judged trimmed.
func TestGate_ValidateSecretCapsTheValueAsGiven(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tooLong := "value: the value of ANTHROPIC_API_KEY must be valid UTF-8 of at most 16384 bytes"
	for _, tc := range []struct {
		name, key, value, want string
	}{
		{"padded, at the cap", "ANTHROPIC_API_KEY", "sk-1" + strings.Repeat(" ", gate.MaxSecretInputBytes-4), ""},
		{"padded, past the cap", "ANTHROPIC_API_KEY", "sk-1" + strings.Repeat(" ", gate.MaxSecretInputBytes-3), tooLong},
		{"blank, past the cap", "ANTHROPIC_API_KEY", strings.Repeat(" ", gate.MaxSecretInputBytes+1), tooLong},
		{"a bad name first", "bad name", strings.Repeat("k", gate.MaxSecretInputBytes+1), "key: a name (8 characters) is not a credential name"},
		{"a reserved name first", "MODELGATE_PLATFORM_TOKEN", strings.Repeat("k", gate.MaxSecretInputBytes+1), "key: MODELGATE_PLATFORM_TOKEN is reserved"},
	} {
		err := b.gate.ValidateSecret("key", "value", tc.key, tc.value)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v, want it accepted", tc.name, err)
		case tc.want != "" && (modelgate.ErrorCode(err) != modelgate.EInvalidArgument || !strings.HasPrefix(modelgate.ErrorMessage(err), tc.want)):
			t.Errorf("%s: %v, want INVALID_ARGUMENT %q", tc.name, err, tc.want)
		}
	}
}

// TestGate_AgreesWithDiscovery is the property that makes modelgate
// trustworthy: for every runtime, every offered id and every subset of its
// accepted names plus unrelated names, in either scope, the gate allows iff
// the id is platform-billed or the subset meets discovery's auth_env. It is
// exhaustive over the default catalog.
func TestGate_AgreesWithDiscovery(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cat := registry.Default()
	unrelated := []string{"UNRELATED_KEY", "GROQ_API_KEY"}
	checked := 0
	for _, rt := range cat.Runtimes() {
		offered, err := cat.Offered(rt, registry.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range offered {
			pool := append(slices.Clone(m.AuthEnv), unrelated...)
			for mask := 0; mask < 1<<len(pool); mask++ {
				var subset []string
				for i, n := range pool {
					if mask&(1<<i) != 0 && !slices.Contains(subset, n) {
						subset = append(subset, n)
					}
				}
				meets := slices.ContainsFunc(subset, func(n string) bool { return slices.Contains(m.AuthEnv, n) })
				want := m.PlatformBilled || meets
				for _, scope := range []string{"workspace", "org"} {
					req := gate.Request{Runtime: rt, Model: m.Model}
					l := &lookup{}
					if scope == "workspace" {
						req.WorkspaceSecrets = map[string]string{}
						for _, n := range subset {
							req.WorkspaceSecrets[n] = "v"
						}
					} else {
						l.names = subset
					}
					dec, err := b.gate.Check(t.Context(), req, l)
					if got := err == nil; got != want {
						t.Fatalf("%s %s with %s names %v: allowed=%v (%v), discovery says %v (platform=%v auth_env=%v)",
							rt, m.Model, scope, subset, got, err, want, m.PlatformBilled, m.AuthEnv)
					}
					if err == nil && !m.PlatformBilled {
						if dec.PlatformBilled {
							t.Fatalf("%s %s: allowed as platform but discovery says BYOK", rt, m.Model)
						}
						if !slices.Contains(m.AuthEnv, dec.Name) || !slices.Contains(subset, dec.Name) {
							t.Fatalf("%s %s: allowed by %q, not an offered and present name", rt, m.Model, dec.Name)
						}
					}
					if err != nil && modelgate.ErrorCode(err) != modelgate.EMissingCredential {
						t.Fatalf("%s %s: refused with %v", rt, m.Model, err)
					}
					if scope == "org" && !slices.Equal(cat.AcceptedNames(rt, m.Model), m.AuthEnv) {
						t.Fatalf("%s %s: AcceptedNames %v != offered auth_env %v", rt, m.Model, cat.AcceptedNames(rt, m.Model), m.AuthEnv)
					}
					checked++
				}
			}
		}
	}
	t.Logf("checked %d decisions", checked)
}

// overlapCatalog has two open arms whose patterns both accept "shared/…":
// only the available credential names can settle which provider serves it.
const overlapCatalog = `version: 1
default_runtime: rt
default_model: platform/m
providers:
  - name: platform
    auth_env: [PLATFORM_TOKEN]
    pattern: '^platform/'
  - name: alpha
    auth_env: [ALPHA_KEY]
    pattern: '^(shared|alpha)/'
  - name: beta
    auth_env: [BETA_KEY]
    pattern: '^(shared|beta)/'
runtimes:
  - name: rt
    arms:
      - provider: platform
        models: [platform/m]
      - provider: alpha
      - provider: beta
`

// TestGate_OrgKeySettlesAmbiguousPatterns: derivation uses the union of
// workspace and org names (CONTRACT.md §2.4, §3.6), so an org key settles a
// model that several open arms' patterns match, in Check and in Preflight.
func TestGate_OrgKeySettlesAmbiguousPatterns(t *testing.T) {
	t.Parallel()
	cat, err := registry.Load([]byte(overlapCatalog), "overlap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	g := gate.New(cat, zerolog.Nop())
	req := gate.Request{Runtime: "rt", Model: "shared/x"}

	dec, err := g.Check(t.Context(), req, &lookup{names: []string{"BETA_KEY"}})
	if err != nil || dec.Provider != "beta" || dec.CredentialScope != modelgate.ScopeOrg {
		t.Fatalf("Check with org BETA_KEY = %+v, %v; want beta, scope org", dec, err)
	}
	dec, err = g.Preflight(t.Context(), req, &lookup{names: []string{"ALPHA_KEY"}})
	if err != nil || dec.Provider != "alpha" || dec.CredentialScope != modelgate.ScopeOrg {
		t.Fatalf("Preflight with org ALPHA_KEY = %+v, %v; want alpha, scope org", dec, err)
	}
	if _, err := g.Check(t.Context(), req, &lookup{}); modelgate.ErrorCode(err) != modelgate.EUnregisteredModel {
		t.Fatalf("Check with no names = %v, want %s (ambiguous)", err, modelgate.EUnregisteredModel)
	}
	if _, err := g.Check(t.Context(), req, &lookup{err: errors.New("connection refused")}); modelgate.ErrorCode(err) != modelgate.EUnregisteredModel {
		t.Fatalf("Check with a failing lookup = %v, want %s: fail-open cannot choose a provider", err, modelgate.EUnregisteredModel)
	}
}

// TestGate_PlatformIdListedOnAnotherArmIsChosenByAnOrgKey was found by the
// property over generated catalogs: an id listed first on the platform arm
// and then on a BYOK arm goes to the BYOK arm when the org holds its key
// (the caller's credentials choose the first arm they satisfy), so the gate
// must read the org's names before settling on the platform. With no org
// key it stays platform-billed; a failing lookup leaves it on the platform.
func TestGate_PlatformIdListedOnAnotherArmIsChosenByAnOrgKey(t *testing.T) {
	t.Parallel()
	cat, err := registry.Load([]byte(`version: 1
default_runtime: rt
default_model: shared/m
providers:
  - {name: platform, auth_env: [MODELGATE_PLATFORM_TOKEN], pattern: '^platform/'}
  - {name: own, auth_env: [OWN_KEY], pattern: '^own/'}
runtimes:
  - name: rt
    arms:
      - {provider: platform, models: [shared/m]}
      - {provider: own, models: [shared/m]}
`), "shared.yaml")
	if err != nil {
		t.Fatal(err)
	}
	g := gate.New(cat, zerolog.Nop())
	req := gate.Request{Runtime: "rt", Model: "shared/m"}
	for _, tc := range []struct {
		lookup        *lookup
		provider, scp string
	}{
		{&lookup{names: []string{"OWN_KEY"}}, "own", modelgate.ScopeOrg},
		{&lookup{names: []string{"MODELGATE_PLATFORM_TOKEN"}}, "platform", modelgate.ScopePlatform},
		{&lookup{}, "platform", modelgate.ScopePlatform},
		{&lookup{err: errors.New("connection refused")}, "platform", modelgate.ScopePlatform},
	} {
		dec, err := g.Check(t.Context(), req, tc.lookup)
		if err != nil || dec.Provider != tc.provider || dec.CredentialScope != tc.scp {
			t.Errorf("Check with org %v (err %v) = %+v, %v; want %s, %s", tc.lookup.names, tc.lookup.err, dec, err, tc.provider, tc.scp)
		}
	}
}
