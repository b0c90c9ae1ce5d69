package registry_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelgate/modelgate/registry"
)

func TestSuggest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, runtime, model string
		want                 []string // exact result; nil = check first/includes only
		first, includes      string
	}{
		{name: "TypoSuggestsTheIdFirst", runtime: "claude-code", model: "claude-sonet-4-6", first: "claude-sonnet-4-6"},
		{name: "NewerVersionSuggestsNearestVersionFirst", runtime: "codex", model: "gpt-5.6", want: []string{"gpt-5.5", "gpt-5.4", "gpt-5.2"}},
		{name: "CaseIsIgnored", runtime: "claude-code", model: "MINIMAX-M2.7", first: "MiniMax-M2.7"},
		{name: "OtherNamespaceOfTheSameModel", runtime: "claude-code", model: "anthropic/claude-haiku-4-5", first: "anthropic:claude-haiku-4-5", includes: "claude-haiku-4-5"},
		{name: "SameNamespaceWithLongPrefix", runtime: "claude-code", model: "minimax/MiniMax-M2.7-highspeed-preview-2026", first: "minimax/MiniMax-M2.7-highspeed"},
		{name: "UnrelatedIdSuggestsNone", runtime: "claude-code", model: "zzzz-totally-unrelated", want: []string{}},
		{name: "ShortUnrelatedIdSuggestsNone", runtime: "codex", model: "llama", want: []string{}},
		{name: "UnknownRuntimeSuggestsNone", runtime: "langgraph", model: "gpt-5.5", want: []string{}},
		{name: "EmptyModelSuggestsNone", runtime: "codex", model: "  ", want: []string{}},
		{name: "HugeModelSuggestsNone", runtime: "codex", model: "gpt-5.5" + strings.Repeat("x", 10000), want: []string{}},
		{name: "OnlyIdsOfTheRuntime", runtime: "hermes", model: "gpt-5.5", want: []string{}},
	}
	c := registry.Default()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := c.Suggest(tc.runtime, tc.model)
			if got == nil {
				t.Fatal("Suggest returned nil; it must return an empty slice")
			}
			if len(got) > 3 {
				t.Errorf("Suggest returned %d ids, want at most 3: %q", len(got), got)
			}
			if tc.want != nil {
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("Suggest(%q, %q) mismatch (-want +got):\n%s", tc.runtime, tc.model, diff)
				}
			}
			if tc.first != "" && (len(got) == 0 || got[0] != tc.first) {
				t.Errorf("Suggest(%q, %q) = %q, want %q first", tc.runtime, tc.model, got, tc.first)
			}
			if tc.includes != "" && !slices.Contains(got, tc.includes) {
				t.Errorf("Suggest(%q, %q) = %q, want it to include %q", tc.runtime, tc.model, got, tc.includes)
			}
		})
	}
}

func TestSuggest_OnlyRegisteredIdsOfTheRuntime(t *testing.T) {
	t.Parallel()
	c := registry.Default()
	for _, rt := range c.Runtimes() {
		offered, _ := c.Offered(rt, registry.Filter{})
		listed := map[string]bool{}
		for _, m := range offered {
			listed[m.Model] = true
		}
		for _, q := range []string{"gpt-5", "claude-opus", "kimi-k2.7", "moonshot/kimi", "gemini-2.5", "sonet"} {
			for _, s := range c.Suggest(rt, q) {
				if !listed[s] {
					t.Errorf("Suggest(%q, %q) suggests %q, which is not listed on the runtime", rt, q, s)
				}
			}
		}
	}
}
