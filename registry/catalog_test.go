package registry_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelgate/modelgate/registry"
)

func TestDefaultCatalogLoads(t *testing.T) {
	t.Parallel()
	c := registry.Default()
	if got, want := c.DefaultRuntime(), "claude-code"; got != want {
		t.Errorf("DefaultRuntime() = %q, want %q", got, want)
	}
	if got, want := c.DefaultModel(), "moonshot/kimi-k2.6"; got != want {
		t.Errorf("DefaultModel() = %q, want %q", got, want)
	}
	want := []string{"claude-code", "codex", "google-adk", "hermes", "openclaw"}
	if diff := cmp.Diff(want, c.Runtimes()); diff != "" {
		t.Errorf("Runtimes() mismatch (-want +got):\n%s", diff)
	}
	if registry.Default() != c {
		t.Error("Default() loaded the catalog again; it must be loaded once and shared")
	}
}

// catalogMDProviders is the providers table of shared/spec/CATALOG.md,
// transcribed mechanically from the Markdown.
var catalogMDProviders = []struct {
	name, display string
	authEnv       []string
	pattern       string
}{
	{"platform", "Platform (operator-billed)", []string{"MODELGATE_PLATFORM_TOKEN"}, `^platform/`},
	{"anthropic-api", "Anthropic API", []string{"ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"}, `^claude`},
	{"anthropic-oauth", "Claude Code subscription", []string{"CLAUDE_CODE_OAUTH_TOKEN"}, `^(sonnet|opus|haiku)$`},
	{"openai-subscription", "OpenAI Codex subscription", []string{"CODEX_AUTH_JSON", "CODEX_CHATGPT_AUTH_JSON"}, `^gpt-`},
	{"openai-api", "OpenAI API", []string{"OPENAI_API_KEY"}, `^openai-api[:/]`},
	{"moonshot", "Moonshot (Kimi)", []string{"MOONSHOT_API_KEY", "KIMI_API_KEY"}, `^moonshot[:/-]`},
	{"kimi-coding", "Kimi (coding plan)", []string{"KIMI_API_KEY", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"}, `^kimi-`},
	{"minimax", "MiniMax", []string{"MINIMAX_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY"}, `(?i)^minimax-m`},
	{"minimax-cn", "MiniMax China", []string{"MINIMAX_API_KEY", "ANTHROPIC_AUTH_TOKEN"}, `^minimax-cn[:/]`},
	{"zai", "Z.ai (GLM)", []string{"GLM_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY"}, `(?i)^(glm-|zai[:/])`},
	{"deepseek", "DeepSeek", []string{"DEEPSEEK_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY"}, `^deepseek[-:/]`},
	{"xiaomi-mimo", "Xiaomi MiMo", []string{"ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY"}, `(?i)^(mimo-|xiaomi[:/])`},
	{"google", "Google Gemini", []string{"GEMINI_API_KEY", "GOOGLE_API_KEY"}, `^gemini-`},
	{"vertex", "Google Vertex AI", []string{"GOOGLE_APPLICATION_CREDENTIALS"}, `^vertex:`},
	{"alibaba", "Alibaba Qwen", []string{"DASHSCOPE_API_KEY", "ALIBABA_API_KEY"}, `(?i)^(qwen|alibaba[:/])`},
	{"nousresearch", "Nous Research", []string{"NOUSRESEARCH_API_KEY"}, `^nousresearch[:/]`},
	{"openrouter", "OpenRouter", []string{"OPENROUTER_API_KEY"}, `^openrouter[:/]`},
	{"huggingface", "Hugging Face Inference", []string{"HUGGINGFACE_API_KEY", "HF_TOKEN"}, `^huggingface[:/]`},
	{"ai-gateway", "Vercel AI Gateway", []string{"AI_GATEWAY_API_KEY"}, `^ai-gateway[:/]`},
	{"opencode-zen", "OpenCode Zen", []string{"OPENCODE_ZEN_API_KEY"}, `^opencode-zen[:/]`},
	{"opencode-go", "OpenCode Go", []string{"OPENCODE_GO_API_KEY"}, `^opencode-go[:/]`},
	{"kilocode", "Kilo Code", []string{"KILOCODE_API_KEY"}, `^kilocode[:/]`},
	{"ollama-cloud", "Ollama Cloud", []string{"OLLAMA_CLOUD_API_KEY"}, `^ollama-cloud[:/]`},
	{"ollama", "Ollama (self-hosted)", []string{"OLLAMA_HOST"}, `^ollama/`},
	{"nvidia", "NVIDIA NIM", []string{"NVIDIA_API_KEY"}, `^nvidia[:/]`},
	{"arcee", "Arcee", []string{"ARCEE_API_KEY"}, `^arcee[:/]`},
	{"custom", "Custom OpenAI-compatible endpoint", []string{"CUSTOM_API_KEY", "OPENAI_API_KEY"}, `^custom[:/]`},
	{"byok-anthropic", "Anthropic (own key)", []string{"ANTHROPIC_API_KEY"}, `^anthropic/`},
	{"byok-openai", "OpenAI (own key)", []string{"OPENAI_API_KEY"}, `^openai[:/]`},
	{"byok-gemini", "Google Gemini (own key)", []string{"GEMINI_API_KEY", "GOOGLE_API_KEY"}, `^gemini/`},
	{"byok-minimax", "MiniMax (own key)", []string{"MINIMAX_API_KEY"}, `(?i)^(minimax[:/]|codex-minimax-)`},
	{"groq", "Groq", []string{"GROQ_API_KEY"}, `^groq:`},
}

func TestDefaultCatalog_ProvidersAreThoseOfCatalogMD(t *testing.T) {
	t.Parallel()
	got := registry.Default().Providers()
	if len(got) != len(catalogMDProviders) {
		t.Fatalf("%d providers, want %d", len(got), len(catalogMDProviders))
	}
	for i, want := range catalogMDProviders {
		p := got[i]
		if p.Name != want.name || p.DisplayName != want.display || p.Pattern != want.pattern {
			t.Errorf("provider %d = %q %q %q, want %q %q %q", i, p.Name, p.DisplayName, p.Pattern, want.name, want.display, want.pattern)
		}
		// Order matters: messages list the names in catalog order.
		if diff := cmp.Diff(want.authEnv, p.AuthEnv); diff != "" {
			t.Errorf("provider %q auth_env mismatch (-want +got):\n%s", want.name, diff)
		}
		if p.PlatformBilled() != (want.name == registry.PlatformProvider) {
			t.Errorf("provider %q: PlatformBilled() = %v", p.Name, p.PlatformBilled())
		}
		if byName, ok := registry.Default().Provider(want.name); !ok || byName != p {
			t.Errorf("Provider(%q) = %v, %v; want the declared provider", want.name, byName, ok)
		}
	}
}

func TestDefaultCatalog_RuntimesAreThoseOfCatalogMD(t *testing.T) {
	t.Parallel()
	claudeAPI := []string{"claude-fable-5", "claude-sonnet-4-6", "claude-opus-4-7", "claude-haiku-4-5", "claude-sonnet-4-5"}
	var claudeAPIAll []string
	claudeAPIAll = append(claudeAPIAll, claudeAPI...)
	for _, id := range claudeAPI {
		claudeAPIAll = append(claudeAPIAll, "anthropic:"+id)
	}
	gpt := []string{"gpt-5.5", "gpt-5.4", "gpt-5.4-mini", "gpt-5.3-codex", "gpt-5.3-codex-spark", "gpt-5.2"}
	open := func(providers ...string) []registry.Arm {
		arms := make([]registry.Arm, len(providers))
		for i, p := range providers {
			arms[i] = registry.Arm{Provider: p}
		}
		return arms
	}
	want := map[string][]registry.Arm{
		"claude-code": append([]registry.Arm{
			{Provider: "anthropic-oauth", Models: []string{"sonnet", "opus", "haiku", "anthropic:sonnet", "anthropic:opus", "anthropic:haiku"}},
			{Provider: "anthropic-api", Models: claudeAPIAll},
			{Provider: "kimi-coding", Models: []string{"kimi-for-coding", "kimi-k2.5", "kimi-k2"}},
			{Provider: "minimax", Models: []string{"MiniMax-M2", "MiniMax-M2.7", "MiniMax-M2.7-highspeed", "MiniMax-M3"}},
			{Provider: "platform", Models: []string{
				"anthropic/claude-fable-5", "anthropic/claude-opus-4-7", "anthropic/claude-sonnet-4-6",
				"moonshot/kimi-k2.6", "moonshot/kimi-k2.5", "minimax/MiniMax-M2.7",
				"minimax/MiniMax-M2.7-highspeed", "minimax/MiniMax-M3"}},
		}, open("zai", "deepseek", "xiaomi-mimo")...),
		"hermes": append([]registry.Arm{
			{Provider: "kimi-coding", Models: []string{"kimi-coding/kimi-k2"}},
			{Provider: "platform", Models: []string{"moonshot/kimi-k2.6", "moonshot/kimi-k2.5"}},
		}, open("openrouter", "huggingface", "ai-gateway", "opencode-zen", "opencode-go",
			"kilocode", "custom", "nvidia", "arcee", "ollama-cloud", "minimax-cn", "nousresearch", "deepseek", "zai",
			"xiaomi-mimo", "alibaba", "byok-anthropic", "byok-gemini", "byok-openai", "byok-minimax")...),
		"codex": append([]registry.Arm{
			{Provider: "openai-subscription", Models: gpt},
			{Provider: "openai-api", Models: gpt},
			{Provider: "platform", Models: []string{"openai/gpt-5.4", "openai/gpt-5.4-mini"}},
		}, open("byok-minimax")...),
		"openclaw": append([]registry.Arm{
			{Provider: "kimi-coding", Models: []string{"moonshot:kimi-k2.6", "moonshot:kimi-k2.5"}},
			{Provider: "platform", Models: []string{"moonshot/kimi-k2.6", "moonshot/kimi-k2.5"}},
		}, open("openrouter", "custom", "byok-openai", "byok-minimax", "groq")...),
		"google-adk": {
			{Provider: "platform", Models: []string{"platform:gemini-2.5-pro", "platform:gemini-2.5-flash"}},
			{Provider: "google", Models: []string{"gemini-2.5-pro", "gemini-2.5-flash", "google_genai:gemini-2.5-pro", "google_genai:gemini-2.5-flash"}},
		},
	}
	c := registry.Default()
	for name, arms := range want {
		rt, ok := c.Runtime(name)
		if !ok {
			t.Errorf("Runtime(%q) not found", name)
			continue
		}
		if diff := cmp.Diff(arms, rt.Arms); diff != "" {
			t.Errorf("runtime %q arms mismatch (-want +got):\n%s", name, diff)
		}
	}
	if _, ok := c.Runtime("langgraph"); ok {
		t.Error(`Runtime("langgraph") found; the default catalog has no such runtime`)
	}
}

func TestDefaultCatalog_DefaultModelIsPlatformBilledOnDefaultRuntime(t *testing.T) {
	t.Parallel()
	c := registry.Default()
	d, err := c.Derive(c.DefaultRuntime(), c.DefaultModel(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !d.Provider.PlatformBilled() {
		t.Errorf("default model derives to %q, want the platform provider", d.Provider.Name)
	}
}

func TestSummary_NamesCountsAndDefaults(t *testing.T) {
	t.Parallel()
	s := registry.Default().Summary()
	for _, want := range []string{
		"32 providers, 5 runtimes",
		"credential checks: 10 providers (anthropic-api, openai-api,",
		"default runtime: claude-code",
		"moonshot/kimi-k2.6",
		"claude-code",
		"31 ids offered (8 platform-billed, 23 BYOK)",
		"22 arms (20 open)",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("Summary() lacks %q:\n%s", want, s)
		}
	}
}

func TestNameSet_NilIsEmpty(t *testing.T) {
	t.Parallel()
	var s registry.NameSet
	if s.Has("X") || s.Has("") {
		t.Error("nil NameSet has a name")
	}
	s = registry.NewNameSet("A", "B")
	if !s.Has("A") || !s.Has("B") || s.Has("C") {
		t.Errorf("NewNameSet(A, B) = %v", s)
	}
	if registry.NewNameSet() == nil {
		t.Error("NewNameSet() = nil, want an empty set")
	}
}

func TestProvider_AcceptsOnlyItsAuthEnv(t *testing.T) {
	t.Parallel()
	p, _ := registry.Default().Provider("kimi-coding")
	for _, n := range p.AuthEnv {
		if !p.Accepts(n) {
			t.Errorf("Accepts(%q) = false", n)
		}
	}
	for _, n := range []string{"", "OPENAI_API_KEY", "kimi_api_key"} {
		if p.Accepts(n) {
			t.Errorf("Accepts(%q) = true", n)
		}
	}
}

func TestAccessors_ReturnCopiesOfLists(t *testing.T) {
	t.Parallel()
	c := registry.Default()
	rts := c.Runtimes()
	rts[0] = "mutated"
	if slices.Contains(c.Runtimes(), "mutated") {
		t.Error("Runtimes() returned the catalog's own slice")
	}
	ps := c.Providers()
	ps[0] = nil
	if c.Providers()[0] == nil {
		t.Error("Providers() returned the catalog's own slice")
	}
}
