package registry_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/registry"
)

// TestLoad_ReportsEveryErrorInTheFile: `catalog check` shows all problems at
// once, each with its line, instead of one per run.
func TestLoad_ReportsEveryErrorInTheFile(t *testing.T) {
	t.Parallel()
	src := `version: 1
default_runtime: rt
default_model: platform/free
providers:
  - name: platform
    auth_env: [MODELGATE_PLATFORM_TOKEN]
    pattern: '^platform/'
  - name: bad-pattern
    auth_env: [A_KEY]
    pattern: 'no-anchor'
  - name: lower
    auth_env: [lower_case]
    pattern: '^l/'
  - name: thief
    auth_env: [MODELGATE_PLATFORM_TOKEN]
    pattern: '^t/'
runtimes:
  - name: rt
    arms:
      - provider: platform
        models: [platform/free, 'bad id', 'ends/']
      - provider: nobody
      - provider: bad-pattern
`
	_, err := registry.Load([]byte(src), "c.yaml")
	if err == nil {
		t.Fatal("Load succeeded")
	}
	for _, want := range []string{
		`c.yaml:10: provider "bad-pattern": pattern "no-anchor" is not anchored`,
		`c.yaml:12: provider "lower": auth_env name "lower_case"`,
		`c.yaml:15: provider "thief": auth_env name "MODELGATE_PLATFORM_TOKEN" is reserved`,
		`c.yaml:21: runtime "rt": arm 1 (platform): model id "bad id" breaks the id syntax`,
		`c.yaml:21: runtime "rt": arm 1 (platform): model id "ends/" breaks the id syntax`,
		`c.yaml:22: runtime "rt": arm 2: unknown provider "nobody"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	// An arm naming a declared but broken provider is not reported again.
	if strings.Contains(err.Error(), `unknown provider "bad-pattern"`) {
		t.Errorf("a broken provider was reported again as unknown:\n%v", err)
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 6 {
		t.Errorf("%d errors reported, want 6:\n%v", n, err)
	}
}

// TestDerive_AmbiguityIsATypedError: the gate tells an ambiguous id from
// any other refusal with errors.Is, not by looking for a details key.
func TestDerive_AmbiguityIsATypedError(t *testing.T) {
	t.Parallel()
	c, err := registry.Load([]byte(`version: 1
default_runtime: rt
default_model: platform/free
providers:
  - {name: platform, auth_env: [MODELGATE_PLATFORM_TOKEN], pattern: '^platform/'}
  - {name: alpha, auth_env: [ALPHA_KEY], pattern: '^shared/'}
  - {name: beta, auth_env: [BETA_KEY], pattern: '^shared/'}
runtimes:
  - name: rt
    arms:
      - {provider: platform, models: [platform/free]}
      - {provider: alpha}
      - {provider: beta}
`), "overlap.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Derive("rt", "shared/x", nil)
	if !errors.Is(err, registry.ErrAmbiguous) || modelgate.ErrorCode(err) != modelgate.EUnregisteredModel {
		t.Fatalf("Derive(shared/x) = %v, want UNREGISTERED wrapping ErrAmbiguous", err)
	}
	if _, err := c.Derive("rt", "elsewhere/x", nil); errors.Is(err, registry.ErrAmbiguous) {
		t.Fatalf("an unmatched id is not ambiguous: %v", err)
	}
	d, err := c.Derive("rt", "shared/x", registry.NewNameSet("BETA_KEY", "MODELGATE_PLATFORM_TOKEN"))
	if err != nil || d.Provider.Name != "beta" {
		t.Fatalf("with BETA_KEY: %+v, %v", d, err)
	}
}

func TestDerive_IdSyntaxAndRemainderRule(t *testing.T) {
	t.Parallel()
	c := registry.Default()
	for _, tc := range []struct{ runtime, model, code string }{
		{"hermes", "openrouter/x", ""},
		{"hermes", "openrouter:x", ""},
		{"hermes", "openrouter/", modelgate.EInvalidArgument},
		{"claude-code", "glm-", modelgate.EUnregisteredModel},
		{"claude-code", "glm-4.6", ""},
		{"claude-code", "sonnet", ""},
		{"claude-code", "claude-sonnet-4-6[1m]", modelgate.EUnregisteredModel}, // brackets are syntax, the id is not listed
		{"openclaw", "custom:$(id)", modelgate.EInvalidArgument},
		{"openclaw", "custom:a@b+c", ""},
		{"hermes", "openrouter/" + strings.Repeat("a", 189), ""}, // 200 characters
		{"hermes", "openrouter/" + strings.Repeat("a", 190), modelgate.EInvalidArgument},
		{"hermes", ".openrouter/x", modelgate.EInvalidArgument},
	} {
		_, err := c.Derive(tc.runtime, tc.model, nil)
		if got := modelgate.ErrorCode(err); got != tc.code {
			t.Errorf("Derive(%s, %q) = %v, want %q", tc.runtime, tc.model, err, tc.code)
		}
	}
}

func TestArms_AnswerWithEveryArmInOrder(t *testing.T) {
	t.Parallel()
	got, err := registry.Default().Arms("codex", registry.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{"gpt-5.2", "gpt-5.3-codex", "gpt-5.3-codex-spark", "gpt-5.4", "gpt-5.4-mini", "gpt-5.5"}
	want := []registry.ArmOffer{
		{Provider: "openai-subscription", AuthEnv: []string{"CODEX_AUTH_JSON", "CODEX_CHATGPT_AUTH_JSON"}, Models: ids},
		{Provider: "openai-api", AuthEnv: []string{"OPENAI_API_KEY"}, Models: ids},
		{Provider: "platform", PlatformBilled: true, Models: []string{"openai/gpt-5.4", "openai/gpt-5.4-mini"}},
		{Provider: "byok-minimax", AuthEnv: []string{"MINIMAX_API_KEY"}, Pattern: "(?i)^(minimax[:/]|codex-minimax-)"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Arms(codex) (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		f    registry.Filter
		want int
	}{
		{registry.Filter{Billing: "platform"}, 1},
		{registry.Filter{Billing: "byok"}, 3},
		{registry.Filter{Provider: "byok-minimax"}, 1},
		{registry.Filter{Provider: "nobody"}, 0},
	} {
		if got, err := registry.Default().Arms("codex", tc.f); err != nil || len(got) != tc.want || got == nil {
			t.Errorf("Arms(codex, %+v) = %d arms, %v; want %d", tc.f, len(got), err, tc.want)
		}
	}
	if _, err := registry.Default().Arms("langgraph", registry.Filter{}); modelgate.ErrorCode(err) != modelgate.ERuntimeUnsupported {
		t.Errorf("Arms(langgraph) = %v, want RUNTIME_UNSUPPORTED", err)
	}
}
