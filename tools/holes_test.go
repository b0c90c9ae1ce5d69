package tools_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/modelgate/modelgate"
)

// The holes of issue 10 that an agent meets through the tools, each refused
// call writing nothing.

func TestTools_Hole2_ReservedNameIsRefusedInEveryArgument(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{protocol: mcp.ProtocolVersion20251125})
	before := b.counts(t)
	for _, tc := range []struct {
		tool string
		args map[string]any
	}{
		{"set_org_secret", map[string]any{"key": "MODELGATE_PLATFORM_TOKEN", "value": canary}},
		{"provision_workspace", map[string]any{"name": "w", "runtime": "claude-code", "model": "anthropic/claude-opus-4-7",
			"secrets": map[string]any{"MODELGATE_PLATFORM_TOKEN": canary}}},
	} {
		e := b.mustFail(t, tc.tool, tc.args, modelgate.EInvalidArgument)
		if !strings.Contains(e["error"].(string), "MODELGATE_PLATFORM_TOKEN") || !strings.Contains(e["error"].(string), "reserved") {
			t.Errorf("%s: %v, want a message naming the reserved name", tc.tool, e["error"])
		}
	}
	if diff := cmp.Diff(before, b.counts(t)); diff != "" {
		t.Fatalf("a refused call wrote rows: %s", diff)
	}
}

func TestTools_Hole3_BlankNULAndOversizedValuesAreRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{protocol: mcp.ProtocolVersion20251125})
	before := b.counts(t)
	for name, value := range map[string]string{
		"blank":     "   ",
		"newlines":  "\n\t \n",
		"NUL":       canary + "\x00x",
		"oversized": canary + strings.Repeat("k", 16<<10),
	} {
		for _, tc := range []struct {
			tool string
			args map[string]any
		}{
			{"set_org_secret", map[string]any{"key": "KIMI_API_KEY", "value": value}},
			{"provision_workspace", map[string]any{"name": "w", "runtime": "claude-code", "model": "kimi-k2.5",
				"secrets": map[string]any{"KIMI_API_KEY": value}}},
		} {
			e := b.mustFail(t, tc.tool, tc.args, modelgate.EInvalidArgument) // call() fails on the canary
			if !strings.Contains(e["error"].(string), "KIMI_API_KEY") {
				t.Errorf("%s %s: %v, want the secret named", tc.tool, name, e["error"])
			}
		}
	}
	if diff := cmp.Diff(before, b.counts(t)); diff != "" {
		t.Fatalf("a refused call wrote rows: %s", diff)
	}
	// A padded value is stored trimmed, and counts.
	b.mustCall(t, "set_org_secret", map[string]any{"key": "KIMI_API_KEY", "value": "  " + canary + "\n"})
	got := b.mustCall(t, "provision_workspace", map[string]any{"name": "w", "runtime": "claude-code", "model": "kimi-k2.5", "dry_run": true})
	if got["credential_scope"] != "org" {
		t.Fatalf("with a padded org key: %v", got)
	}
}

func TestTools_Hole4_IdSyntaxAndBarePrefixAreRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{protocol: mcp.ProtocolVersion20251125})
	b.mustCall(t, "set_org_secret", map[string]any{"key": "OPENROUTER_API_KEY", "value": canary})
	b.mustCall(t, "set_org_secret", map[string]any{"key": "CUSTOM_API_KEY", "value": canary})
	for _, tc := range []struct{ runtime, model, code string }{
		{"hermes", "openrouter/", modelgate.EInvalidArgument}, // ends in "/"
		{"hermes", "openrouter:", modelgate.EInvalidArgument},
		{"openclaw", "custom:$(id)", modelgate.EInvalidArgument},
		{"hermes", "openrouter/a b", modelgate.EInvalidArgument},
		{"hermes", "-openrouter/x", modelgate.EInvalidArgument},
		{"hermes", strings.Repeat("a", 201), modelgate.EInvalidArgument},
		{"claude-code", "glm-", modelgate.EUnregisteredModel}, // nothing after zai's prefix
		{"hermes", "deepseek-", modelgate.EUnregisteredModel},
	} {
		e := b.mustFail(t, "provision_workspace", map[string]any{"name": "w", "runtime": tc.runtime, "model": tc.model}, tc.code)
		msg := e["error"].(string)
		if tc.code == modelgate.EInvalidArgument && (!strings.Contains(msg, "A-Za-z0-9") || strings.Contains(msg, tc.model)) {
			t.Errorf("%q: message %q, want the rule and not the value", tc.model, msg)
		}
	}
	b.mustCall(t, "provision_workspace", map[string]any{"name": "ok", "runtime": "hermes", "model": "openrouter/anthropic/claude-3"})
}

func TestTools_Hole5_DiscoveryShowsOpenArmsAndIsShort(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{protocol: mcp.ProtocolVersion20251125})
	got := b.mustCall(t, "list_offered_models", map[string]any{"runtime": "hermes"})
	want := map[string]any{"provider": "openrouter", "platform_billed": false, "auth_env": []any{"OPENROUTER_API_KEY"},
		"credential_available": false, "pattern": "^openrouter[:/]"}
	arms := got["arms"].([]any)
	if len(arms) != 22 || cmp.Diff(want, arms[2]) != "" {
		t.Fatalf("hermes arms[2] = %v (of %d arms), want %v", arms[2], len(arms), want)
	}
	platform := arms[1].(map[string]any)
	if _, ok := platform["auth_env"]; ok || platform["credential_available"] != true {
		t.Fatalf("platform arm = %v, want no auth_env and a credential", platform)
	}
	// Version 1 answered claude-code with 10 KB, each model repeating its
	// provider's names; the arms say each once.
	b2, _ := json.Marshal(b.mustCall(t, "list_offered_models", map[string]any{"runtime": "claude-code"}))
	if len(b2) > 3000 {
		t.Fatalf("claude-code answer is %d bytes, want at most 3000", len(b2))
	}
}

func TestTools_Hole6_OfferedOnAndOneCodeForAnUnknownRuntime(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{protocol: mcp.ProtocolVersion20251125})
	e := b.mustFail(t, "provision_workspace", map[string]any{"name": "w", "runtime": "hermes", "model": "gpt-5.4"}, modelgate.EUnregisteredModel)
	if diff := cmp.Diff([]any{"codex"}, e["offered_on"]); diff != "" {
		t.Errorf("gpt-5.4 on hermes: offered_on (-want +got):\n%s", diff)
	}
	e = b.mustFail(t, "provision_workspace", map[string]any{"name": "w", "runtime": "hermes", "model": "moonshot/kimi-k2.6x"}, modelgate.EUnregisteredModel)
	if diff := cmp.Diff([]any{}, e["offered_on"]); diff != "" {
		t.Errorf("an id no runtime lists: offered_on (-want +got):\n%s", diff)
	}
	for tool, args := range map[string]map[string]any{
		"list_offered_models": {"runtime": "langgraph"},
		"provision_workspace": {"name": "w", "runtime": "langgraph", "model": "x"},
	} {
		e := b.mustFail(t, tool, args, modelgate.ERuntimeUnsupported)
		if rts, _ := e["runtimes"].([]any); len(rts) != 5 {
			t.Errorf("%s: runtimes %v", tool, e["runtimes"])
		}
	}
}
