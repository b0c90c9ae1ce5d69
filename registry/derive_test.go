package registry_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/registry"
)

// deriveCase is one derivation on the default catalog. Exactly one of
// provider and code is set.
type deriveCase struct {
	name     string
	runtime  string
	model    string
	names    []string // available credential names
	provider string   // derived provider
	exact    bool
	code     string // error code
}

// deriveCases holds every row of CATALOG.md's cases table that Derive
// decides (the credential checks that follow belong to the gate), plus the
// rules of CONTRACT.md §2 they rest on.
var deriveCases = []deriveCase{
	// CATALOG.md cases.
	{name: "PlatformModelDerivesToPlatform", runtime: "claude-code", model: "moonshot/kimi-k2.6", provider: "platform", exact: true},
	{name: "ListedBYOKIdNeedsNoNamesToDerive", runtime: "claude-code", model: "claude-sonnet-4-6", provider: "anthropic-api", exact: true},
	{name: "ListedBYOKIdWithOrgKey", runtime: "claude-code", model: "claude-sonnet-4-6", names: []string{"ANTHROPIC_API_KEY"}, provider: "anthropic-api", exact: true},
	{name: "ListedBYOKIdWithWorkspaceToken", runtime: "claude-code", model: "claude-sonnet-4-6", names: []string{"ANTHROPIC_AUTH_TOKEN"}, provider: "anthropic-api", exact: true},
	{name: "TypoIsUnregistered", runtime: "claude-code", model: "claude-sonet-4-6", names: []string{"ANTHROPIC_API_KEY"}, code: modelgate.EUnregisteredModel},
	{name: "PlatformNamespaceIdNotListedIsUnregistered", runtime: "claude-code", model: "anthropic/claude-haiku-4-5", names: []string{"ANTHROPIC_API_KEY"}, code: modelgate.EUnregisteredModel},
	{name: "ClosedArmRefusesUnlistedId", runtime: "claude-code", model: "claude-sonnet-4-7", names: []string{"ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"}, code: modelgate.EUnregisteredModel},
	{name: "ClosedArmRefusesNewerVersion", runtime: "codex", model: "gpt-5.6", names: []string{"OPENAI_API_KEY", "CODEX_AUTH_JSON"}, code: modelgate.EUnregisteredModel},
	{name: "OpenArmByPatternWithKey", runtime: "hermes", model: "openrouter/anthropic/claude-3", names: []string{"OPENROUTER_API_KEY"}, provider: "openrouter"},
	{name: "OpenArmByPatternWithoutKey", runtime: "hermes", model: "openrouter/anthropic/claude-3", provider: "openrouter"},
	{name: "NoOpenArmMatches", runtime: "hermes", model: "MiniMax-M2.7", names: []string{"MINIMAX_API_KEY"}, code: modelgate.EUnregisteredModel},
	{name: "GroqByPattern", runtime: "openclaw", model: "groq:llama-3", provider: "groq"},
	{name: "ZaiByPatternWithKey", runtime: "claude-code", model: "glm-4.6", names: []string{"GLM_API_KEY"}, provider: "zai"},
	{name: "ByokAnthropicByPattern", runtime: "hermes", model: "anthropic/claude-opus-4-7", provider: "byok-anthropic"},
	{name: "ByokMinimaxByPattern", runtime: "hermes", model: "minimax/MiniMax-M2.7", provider: "byok-minimax"},
	{name: "SharedIdWithoutNamesTakesFirstArm", runtime: "codex", model: "gpt-5.5", provider: "openai-subscription", exact: true},
	{name: "SharedIdMovesToArmWhoseKeyIsPresent", runtime: "codex", model: "gpt-5.5", names: []string{"OPENAI_API_KEY"}, provider: "openai-api", exact: true},
	{name: "PlatformIdOnCodex", runtime: "codex", model: "openai/gpt-5.4", provider: "platform", exact: true},
	{name: "PlatformIdOnGoogleADK", runtime: "google-adk", model: "platform:gemini-2.5-pro", provider: "platform", exact: true},
	{name: "UnknownRuntimeIsUnsupported", runtime: "langgraph", model: "anything", names: []string{"OPENAI_API_KEY"}, code: modelgate.ERuntimeUnsupported},

	// CONTRACT.md §2 rules.
	{name: "UnknownRuntimeIsCheckedBeforeModel", runtime: "langgraph", model: "", code: modelgate.ERuntimeUnsupported},
	{name: "RuntimeNamesAreExact", runtime: "Claude-Code", model: "moonshot/kimi-k2.6", code: modelgate.ERuntimeUnsupported},
	{name: "EmptyModelIsRequired", runtime: "claude-code", model: "", code: modelgate.EModelRequired},
	{name: "BlankModelIsRequired", runtime: "claude-code", model: " \t\n", code: modelgate.EModelRequired},
	{name: "ModelIsTrimmed", runtime: "claude-code", model: "  claude-sonnet-4-6\n", provider: "anthropic-api", exact: true},
	{name: "SharedIdTakesFirstArmWhoseKeyIsPresent", runtime: "codex", model: "gpt-5.5", names: []string{"OPENAI_API_KEY", "CODEX_CHATGPT_AUTH_JSON"}, provider: "openai-subscription", exact: true},
	{name: "SharedIdIgnoresUnrelatedNames", runtime: "codex", model: "gpt-5.2", names: []string{"GROQ_API_KEY"}, provider: "openai-subscription", exact: true},
	{name: "ClosedArmPatternIsNotConsulted", runtime: "claude-code", model: "claude-3-opus", names: []string{"ANTHROPIC_API_KEY"}, code: modelgate.EUnregisteredModel},
	{name: "ExactIdsAreCaseSensitive", runtime: "claude-code", model: "Claude-Sonnet-4-6", code: modelgate.EUnregisteredModel},
	{name: "NoSubstringMatch", runtime: "claude-code", model: "my-claude-sonnet-4-6", names: []string{"ANTHROPIC_API_KEY"}, code: modelgate.EUnregisteredModel},
	{name: "NoSuffixMatch", runtime: "codex", model: "gpt-5.5-preview", names: []string{"OPENAI_API_KEY"}, code: modelgate.EUnregisteredModel},
	{name: "IdOfAnotherRuntimeIsUnregistered", runtime: "hermes", model: "kimi-k2", names: []string{"KIMI_API_KEY"}, code: modelgate.EUnregisteredModel},
	{name: "CaseInsensitivePatternOnOpenArm", runtime: "claude-code", model: "GLM-4.6", provider: "zai"},
	{name: "DeepseekByPattern", runtime: "claude-code", model: "deepseek-chat", provider: "deepseek"},
	{name: "XiaomiByPattern", runtime: "claude-code", model: "xiaomi/mimo-7b", provider: "xiaomi-mimo"},
	{name: "ByokOpenAIIsOpenOnOpenclaw", runtime: "openclaw", model: "openai/gpt-5.4", provider: "byok-openai"},
	{name: "CodexMinimaxAlias", runtime: "codex", model: "codex-minimax-m2", provider: "byok-minimax"},
	{name: "PatternIsTriedOnTrimmedId", runtime: "hermes", model: " openrouter/x ", provider: "openrouter"},
	{name: "PlatformPatternIsClosedOnClaudeCode", runtime: "claude-code", model: "platform/anything", code: modelgate.EUnregisteredModel},
}

func TestDerive_CatalogCases(t *testing.T) {
	t.Parallel()
	c := registry.Default()
	for _, tc := range deriveCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, err := c.Derive(tc.runtime, tc.model, registry.NewNameSet(tc.names...))
			if tc.code != "" {
				if got := modelgate.ErrorCode(err); got != tc.code {
					t.Fatalf("Derive(%q, %q) = %+v, %v; want code %s", tc.runtime, tc.model, d, err, tc.code)
				}
				if d != (registry.Derivation{}) {
					t.Errorf("failed Derive returned %+v, want the zero Derivation", d)
				}
				return
			}
			if err != nil {
				t.Fatalf("Derive(%q, %q): %v", tc.runtime, tc.model, err)
			}
			if d.Provider.Name != tc.provider || d.Exact != tc.exact {
				t.Errorf("Derive(%q, %q) = %s exact=%v, want %s exact=%v", tc.runtime, tc.model, d.Provider.Name, d.Exact, tc.provider, tc.exact)
			}
			rt, _ := c.Runtime(tc.runtime)
			if got := rt.Arms[d.Arm].Provider; got != d.Provider.Name {
				t.Errorf("Arm %d is provider %q, but Derive says %q", d.Arm, got, d.Provider.Name)
			}
		})
	}
}

func TestDerive_UnregisteredSuggestsClosestIds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		runtime, model string
		first          string // "" = no suggestions
		includes       string
		closedProvider string // named in the message as serving only listed ids
	}{
		{runtime: "claude-code", model: "claude-sonet-4-6", first: "claude-sonnet-4-6", closedProvider: "anthropic-api"},
		{runtime: "claude-code", model: "claude-sonnet-4-7", includes: "claude-sonnet-4-6", closedProvider: "anthropic-api"},
		{runtime: "codex", model: "gpt-5.6", includes: "gpt-5.5", closedProvider: "openai-subscription"},
		{runtime: "claude-code", model: "anthropic/claude-haiku-4-5", includes: "claude-haiku-4-5"},
		{runtime: "claude-code", model: "zzzz-totally-unrelated"},
	}
	c := registry.Default()
	for _, tc := range tests {
		t.Run(tc.runtime+"/"+tc.model, func(t *testing.T) {
			t.Parallel()
			_, err := c.Derive(tc.runtime, tc.model, nil)
			var e *modelgate.Error
			if !errors.As(err, &e) || e.Code != modelgate.EUnregisteredModel {
				t.Fatalf("Derive = %v, want %s", err, modelgate.EUnregisteredModel)
			}
			if e.Details["runtime"] != tc.runtime || e.Details["model"] != tc.model {
				t.Errorf("details = %v, want runtime %q and model %q", e.Details, tc.runtime, tc.model)
			}
			suggestions, ok := e.Details["suggestions"].([]string)
			if !ok || suggestions == nil {
				t.Fatalf(`details["suggestions"] = %#v, want a non-nil []string`, e.Details["suggestions"])
			}
			if tc.first == "" && tc.includes == "" && len(suggestions) != 0 {
				t.Errorf("suggestions = %q, want none", suggestions)
			}
			if tc.first != "" && (len(suggestions) == 0 || suggestions[0] != tc.first) {
				t.Errorf("suggestions = %q, want %q first", suggestions, tc.first)
			}
			if tc.includes != "" && !slices.Contains(suggestions, tc.includes) {
				t.Errorf("suggestions = %q, want them to include %q", suggestions, tc.includes)
			}
			for _, s := range suggestions {
				if !strings.Contains(e.Message, `"`+s+`"`) {
					t.Errorf("message %q does not name suggestion %q", e.Message, s)
				}
			}
			if tc.closedProvider != "" && !strings.Contains(e.Message, `provider "`+tc.closedProvider+`" serves only its listed ids`) {
				t.Errorf("message %q does not say that %s serves only its listed ids", e.Message, tc.closedProvider)
			}
		})
	}
}

func TestDerive_UnknownRuntimeNamesKnownRuntimes(t *testing.T) {
	t.Parallel()
	c := registry.Default()
	_, err := c.Derive("langgraph", "anything", nil)
	var e *modelgate.Error
	if !errors.As(err, &e) || e.Code != modelgate.ERuntimeUnsupported {
		t.Fatalf("Derive = %v, want %s", err, modelgate.ERuntimeUnsupported)
	}
	if !strings.Contains(e.Message, `"langgraph"`) {
		t.Errorf("message %q does not name the runtime", e.Message)
	}
	if diff := cmp.Diff(c.Runtimes(), e.Details["runtimes"]); diff != "" {
		t.Errorf(`details["runtimes"] mismatch (-want +got):\n%s`, diff)
	}
	if e.Details["runtime"] != "langgraph" {
		t.Errorf(`details["runtime"] = %v`, e.Details["runtime"])
	}
}

// A runtime longer than any catalog name is unknown like any other, and the
// refusal shows only its beginning: it may be 64 KiB of a caller's text.
func TestDerive_ALongUnknownRuntimeIsShownCut(t *testing.T) {
	t.Parallel()
	c := registry.Default()
	runtime := "x" + strings.Repeat("é", 1000) // 2,001 bytes; byte 64 is inside an é
	_, err := c.Derive(runtime, "anything", nil)
	var e *modelgate.Error
	if !errors.As(err, &e) || e.Code != modelgate.ERuntimeUnsupported {
		t.Fatalf("Derive = %v, want %s", err, modelgate.ERuntimeUnsupported)
	}
	shown := "x" + strings.Repeat("é", (registry.MaxNameBytes-1)/2) + "…"
	if want := fmt.Sprintf("runtime %q (2001 bytes) is not supported", shown); !strings.HasPrefix(e.Message, want) {
		t.Errorf("message %q, want it to begin %q", e.Message, want)
	}
	if e.Details["runtime"] != shown {
		t.Errorf(`details["runtime"] = %v, want %q`, e.Details["runtime"], shown)
	}
	if diff := cmp.Diff(c.Runtimes(), e.Details["runtimes"]); diff != "" {
		t.Errorf(`details["runtimes"] mismatch (-want +got):\n%s`, diff)
	}
}

// ambiguousCatalog has two open arms whose patterns both accept "shared/…".
const ambiguousCatalog = `version: 1
default_runtime: rt
default_model: platform/m
providers:
  - name: platform
    auth_env: [PLATFORM_TOKEN]
    pattern: '^platform/'
  - name: alpha
    auth_env: [ALPHA_KEY, SHARED_KEY]
    pattern: '^(shared|alpha)/'
  - name: beta
    auth_env: [BETA_KEY, SHARED_KEY]
    pattern: '^(shared|beta)/'
runtimes:
  - name: rt
    arms:
      - provider: platform
        models: [platform/m]
      - provider: alpha
      - provider: beta
`

func TestDerive_SeveralPatternsAreSettledByAvailableNames(t *testing.T) {
	t.Parallel()
	c, err := registry.Load([]byte(ambiguousCatalog), "ambiguous.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		model    string
		names    []string
		provider string // "" = ambiguous
	}{
		{model: "alpha/x", provider: "alpha"},
		{model: "beta/x", names: []string{"ALPHA_KEY"}, provider: "beta"},
		{model: "shared/x", names: []string{"BETA_KEY"}, provider: "beta"},
		{model: "shared/x", names: []string{"ALPHA_KEY", "UNRELATED"}, provider: "alpha"},
		{model: "shared/x"},
		{model: "shared/x", names: []string{"UNRELATED"}},
		{model: "shared/x", names: []string{"ALPHA_KEY", "BETA_KEY"}},
		{model: "shared/x", names: []string{"SHARED_KEY"}},
	}
	for _, tc := range tests {
		d, err := c.Derive("rt", tc.model, registry.NewNameSet(tc.names...))
		if tc.provider != "" {
			if err != nil || d.Provider.Name != tc.provider || d.Exact {
				t.Errorf("Derive(%q, %q) = %+v, %v; want %s by pattern", tc.model, tc.names, d, err, tc.provider)
			}
			continue
		}
		var e *modelgate.Error
		if !errors.As(err, &e) || e.Code != modelgate.EUnregisteredModel {
			t.Errorf("Derive(%q, %q) = %+v, %v; want %s", tc.model, tc.names, d, err, modelgate.EUnregisteredModel)
			continue
		}
		if !strings.Contains(e.Message, "ambiguous") || !strings.Contains(e.Message, `"alpha" and "beta"`) {
			t.Errorf("message %q does not name the ambiguity and both candidates", e.Message)
		}
		if diff := cmp.Diff([]string{"alpha", "beta"}, e.Details["candidates"]); diff != "" {
			t.Errorf(`details["candidates"] mismatch (-want +got):\n%s`, diff)
		}
		if s, ok := e.Details["suggestions"].([]string); !ok || s == nil {
			t.Errorf(`details["suggestions"] = %#v, want a non-nil []string`, e.Details["suggestions"])
		}
	}
}

func TestDerive_IsDeterministicAcrossCalls(t *testing.T) {
	t.Parallel()
	c := registry.Default()
	names := registry.NewNameSet("OPENAI_API_KEY", "CODEX_AUTH_JSON", "ANTHROPIC_API_KEY")
	for _, rt := range c.Runtimes() {
		offered, err := c.Offered(rt, registry.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range offered {
			first, err := c.Derive(rt, m.Model, names)
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				if again, _ := c.Derive(rt, m.Model, names); again != first {
					t.Fatalf("Derive(%q, %q) changed from %+v to %+v", rt, m.Model, first, again)
				}
			}
		}
	}
}

func TestDerive_ExactIdDoesNotAllocate(t *testing.T) {
	c := registry.Default()
	names := registry.NewNameSet("OPENAI_API_KEY")
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := c.Derive("codex", "gpt-5.5", names); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Derive("claude-code", " claude-sonnet-4-6 ", nil); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("Derive of a listed id allocates %v times per run, want 0", allocs)
	}
}
