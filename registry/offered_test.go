package registry_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/registry"
)

func offeredModel(t *testing.T, list []registry.OfferedModel, id string) registry.OfferedModel {
	t.Helper()
	i := slices.IndexFunc(list, func(m registry.OfferedModel) bool { return m.Model == id })
	if i < 0 {
		t.Fatalf("%q is not offered", id)
	}
	return list[i]
}

func TestOffered_ClaudeCodeListsEveryListedIdSorted(t *testing.T) {
	t.Parallel()
	c := registry.Default()
	got, err := c.Offered("claude-code", registry.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	rt, _ := c.Runtime("claude-code")
	var want []string
	for _, a := range rt.Arms {
		want = append(want, a.Models...)
	}
	slices.Sort(want)
	want = slices.Compact(want)
	ids := make([]string, len(got))
	for i, m := range got {
		ids[i] = m.Model
	}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("offered ids mismatch (-want +got):\n%s", diff)
	}
	if len(ids) != 31 {
		t.Errorf("%d ids offered on claude-code, want 31", len(ids))
	}

	wantModels := []registry.OfferedModel{
		{Model: "moonshot/kimi-k2.6", Provider: "platform", PlatformBilled: true},
		{Model: "claude-sonnet-4-6", Provider: "anthropic-api", AuthEnv: []string{"ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"}},
		{Model: "anthropic:opus", Provider: "anthropic-oauth", AuthEnv: []string{"CLAUDE_CODE_OAUTH_TOKEN"}},
		{Model: "kimi-k2.5", Provider: "kimi-coding", AuthEnv: []string{"KIMI_API_KEY", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"}},
		{Model: "MiniMax-M3", Provider: "minimax", AuthEnv: []string{"MINIMAX_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY"}},
	}
	for _, want := range wantModels {
		if diff := cmp.Diff(want, offeredModel(t, got, want.Model)); diff != "" {
			t.Errorf("%s mismatch (-want +got):\n%s", want.Model, diff)
		}
	}
}

func TestOffered_AuthEnvIsTheUnionOverEveryArmListingTheId(t *testing.T) {
	t.Parallel()
	got, err := registry.Default().Offered("codex", registry.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	want := registry.OfferedModel{
		Model:    "gpt-5.5",
		Provider: "openai-subscription",
		AuthEnv:  []string{"CODEX_AUTH_JSON", "CODEX_CHATGPT_AUTH_JSON", "OPENAI_API_KEY"},
	}
	if diff := cmp.Diff(want, offeredModel(t, got, "gpt-5.5")); diff != "" {
		t.Errorf("gpt-5.5 mismatch (-want +got):\n%s", diff)
	}
	if m := offeredModel(t, got, "openai/gpt-5.4"); !m.PlatformBilled || m.AuthEnv != nil {
		t.Errorf("openai/gpt-5.4 = %+v, want platform-billed with nil AuthEnv", m)
	}
}

func TestOffered_Filters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		filter registry.Filter
		count  int
		keep   func(registry.OfferedModel) bool
	}{
		{name: "ZeroFilterKeepsAll", filter: registry.Filter{}, count: 31, keep: func(registry.OfferedModel) bool { return true }},
		{name: "BillingAllKeepsAll", filter: registry.Filter{Billing: "all"}, count: 31, keep: func(registry.OfferedModel) bool { return true }},
		{name: "BillingPlatform", filter: registry.Filter{Billing: "platform"}, count: 8, keep: func(m registry.OfferedModel) bool { return m.PlatformBilled }},
		{name: "BillingBYOK", filter: registry.Filter{Billing: "byok"}, count: 23, keep: func(m registry.OfferedModel) bool { return !m.PlatformBilled }},
		{name: "Provider", filter: registry.Filter{Provider: "anthropic-api"}, count: 10, keep: func(m registry.OfferedModel) bool { return m.Provider == "anthropic-api" }},
		{name: "ProviderAndBilling", filter: registry.Filter{Provider: "platform", Billing: "byok"}, count: 0, keep: func(registry.OfferedModel) bool { return false }},
		{name: "OpenArmProviderIsNeverOffered", filter: registry.Filter{Provider: "zai"}, count: 0, keep: func(registry.OfferedModel) bool { return false }},
		{name: "UnknownProviderOffersNothing", filter: registry.Filter{Provider: "nobody"}, count: 0, keep: func(registry.OfferedModel) bool { return false }},
	}
	c := registry.Default()
	all, _ := c.Offered("claude-code", registry.Filter{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := c.Offered("claude-code", tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil {
				t.Fatal("Offered returned nil; it must return an empty slice")
			}
			want := slices.DeleteFunc(slices.Clone(all), func(m registry.OfferedModel) bool { return !tc.keep(m) })
			if diff := cmp.Diff(want, got); diff != "" || len(got) != tc.count {
				t.Errorf("Offered(%+v): %d models, want %d (-want +got):\n%s", tc.filter, len(got), tc.count, diff)
			}
		})
	}
}

func TestOffered_OpenArmsAreNeverOffered(t *testing.T) {
	t.Parallel()
	c := registry.Default()
	for _, name := range c.Runtimes() {
		rt, _ := c.Runtime(name)
		closed := map[string]bool{}
		for _, a := range rt.Arms {
			closed[a.Provider] = len(a.Models) > 0
		}
		got, err := c.Offered(name, registry.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range got {
			if !closed[m.Provider] {
				t.Errorf("runtime %q offers %q through open arm %q", name, m.Model, m.Provider)
			}
			if d, err := c.Derive(name, m.Model, nil); err != nil || !d.Exact || d.Provider.Name != m.Provider {
				t.Errorf("runtime %q offers %q as %s, but Derive says %+v, %v", name, m.Model, m.Provider, d, err)
			}
		}
	}
	if got, _ := c.Offered("hermes", registry.Filter{}); len(got) != 3 {
		t.Errorf("hermes offers %d ids, want the 3 listed ones", len(got))
	}
}

func TestOffered_Errors(t *testing.T) {
	t.Parallel()
	c := registry.Default()
	_, err := c.Offered("langgraph", registry.Filter{})
	var e *modelgate.Error
	if !errors.As(err, &e) || e.Code != modelgate.ERuntimeUnsupported {
		t.Fatalf("Offered(langgraph) = %v, want %s", err, modelgate.ERuntimeUnsupported)
	}
	if diff := cmp.Diff(c.Runtimes(), e.Details["runtimes"]); diff != "" {
		t.Errorf(`details["runtimes"] mismatch (-want +got):\n%s`, diff)
	}

	_, err = c.Offered("claude-code", registry.Filter{Billing: "free"})
	if !errors.As(err, &e) || e.Code != modelgate.EInvalidArgument || !strings.Contains(e.Message, `"free"`) {
		t.Errorf("Offered(billing free) = %v, want %s naming the value", err, modelgate.EInvalidArgument)
	}
	// A long value is shown cut, in the message and in the detail.
	long := strings.Repeat("b", 64<<10)
	_, err = c.Offered("claude-code", registry.Filter{Billing: long})
	if !errors.As(err, &e) || e.Code != modelgate.EInvalidArgument {
		t.Fatalf("Offered(long billing) = %v, want %s", err, modelgate.EInvalidArgument)
	}
	if shown, _ := e.Details["billing"].(string); len(e.Message) > 300 || len(shown) > 100 || !strings.Contains(e.Message, "(65536 bytes)") {
		t.Errorf("long billing echoed: message %d bytes, detail %d bytes: %.120s", len(e.Message), len(shown), e.Message)
	}
}

func TestOffered_ResultIsTheCallersCopy(t *testing.T) {
	t.Parallel()
	c := registry.Default()
	first, _ := c.Offered("codex", registry.Filter{})
	first[0].Model = "mutated"
	first[0].Provider = "mutated"
	again, _ := c.Offered("codex", registry.Filter{})
	if again[0].Model == "mutated" || again[0].Provider == "mutated" {
		t.Error("Offered returned the catalog's own slice")
	}
}
