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
