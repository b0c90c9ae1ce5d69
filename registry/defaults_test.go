package registry_test

import (
	"strings"
	"testing"

	"github.com/modelgate/modelgate/registry"
)

func TestWithDefaults_OverridesAndKeepsTheRule(t *testing.T) {
	t.Parallel()
	c := registry.Default()
	got, err := c.WithDefaults("codex", "openai/gpt-5.4")
	if err != nil {
		t.Fatal(err)
	}
	if got.DefaultRuntime() != "codex" || got.DefaultModel() != "openai/gpt-5.4" {
		t.Fatalf("defaults = %s %s", got.DefaultRuntime(), got.DefaultModel())
	}
	if c.DefaultRuntime() != "claude-code" {
		t.Fatal("WithDefaults changed the shared default catalog")
	}
	for _, tc := range []struct{ runtime, model, want string }{
		{"langgraph", "", "not a runtime"},
		{"codex", "", "not platform-billed"}, // moonshot/kimi-k2.6 is not offered on codex
		{"", "claude-sonnet-4-6", "derives to provider \"anthropic-api\""},
	} {
		if _, err := c.WithDefaults(tc.runtime, tc.model); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("WithDefaults(%q, %q) = %v, want an error containing %q", tc.runtime, tc.model, err, tc.want)
		}
	}
}

func TestPlatformDefault_IsAModelTheRuntimeBillsOnThePlatform(t *testing.T) {
	t.Parallel()
	c := registry.Default()
	want := map[string]string{
		"claude-code": "moonshot/kimi-k2.6", "hermes": "moonshot/kimi-k2.6", "openclaw": "moonshot/kimi-k2.6",
		"codex": "openai/gpt-5.4", "google-adk": "platform:gemini-2.5-flash", "langgraph": "",
	}
	for rt, def := range want {
		if got := c.PlatformDefault(rt); got != def {
			t.Errorf("PlatformDefault(%q) = %q, want %q", rt, got, def)
		}
	}
	_, err := c.Derive("codex", " ", nil)
	if err == nil || !strings.Contains(err.Error(), "openai/gpt-5.4") || strings.Contains(err.Error(), "kimi") {
		t.Fatalf("MODEL_REQUIRED on codex = %v, want it to recommend codex's own platform model", err)
	}
}
