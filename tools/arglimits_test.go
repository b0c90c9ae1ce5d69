package tools_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/gate"
	"github.com/modelgate/modelgate/registry"
	"github.com/modelgate/modelgate/tools"
)

// A length limit on an argument never changes the contract's answer: a
// name longer than any the catalog may declare is unknown, an id longer
// than the id syntax allows breaks the syntax, a secret value longer than
// the hard cap is a refused value. The caps still bound the work, and a
// huge value never comes back in full.

// lengths are argument lengths around the limits: just past a catalog
// name, just past the old model cap, and the tools' cap on any string.
var lengths = []int{registry.MaxNameBytes + 1, 257, 1000, tools.MaxStringArgBytes}

func TestTools_AProviderFilterOfAnyLengthThatNamesNoProviderKeepsNoArms(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{protocol: mcp.ProtocolVersion20251125})
	for _, n := range lengths {
		got := b.mustCall(t, "list_offered_models", map[string]any{"runtime": "codex", "provider": strings.Repeat("p", n)})
		if arms, ok := got["arms"].([]any); !ok || len(arms) != 0 || got["runtime"] != "codex" {
			t.Errorf("provider of %d bytes: %v, want codex with no arms", n, got)
		}
	}
	// A name the catalog knows still keeps its arm.
	got := b.mustCall(t, "list_offered_models", map[string]any{"runtime": "codex", "provider": "openai-api"})
	if arms := got["arms"].([]any); len(arms) != 1 {
		t.Errorf("provider openai-api: %v", arms)
	}
}

func TestTools_AnUnknownRuntimeOfAnyLengthIsRuntimeUnsupportedEverywhere(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{protocol: mcp.ProtocolVersion20251125})
	before := b.counts(t)
	for _, n := range lengths {
		runtime := strings.Repeat("r", n)
		for name, call := range map[string]struct {
			tool string
			args map[string]any
		}{
			"list_offered_models": {"list_offered_models", map[string]any{"runtime": runtime}},
			"provision_workspace": {"provision_workspace", map[string]any{"name": "w", "runtime": runtime, "model": "moonshot/kimi-k2.6"}},
			"dry run":             {"provision_workspace", map[string]any{"name": "w", "runtime": runtime, "model": "moonshot/kimi-k2.6", "dry_run": true}},
			"long model too":      {"provision_workspace", map[string]any{"name": "w", "runtime": runtime, "model": strings.Repeat("m", 300), "dry_run": true}},
		} {
			e := b.mustFail(t, call.tool, call.args, modelgate.ERuntimeUnsupported)
			if diff := cmp.Diff([]any{"claude-code", "codex", "google-adk", "hermes", "openclaw"}, e["runtimes"]); diff != "" {
				t.Errorf("%s, runtime of %d bytes: runtimes (-want +got):\n%s", name, n, diff)
			}
			msg, _ := e["error"].(string)
			shown, _ := e["runtime"].(string)
			if strings.Contains(msg, runtime) || strings.Contains(shown, runtime) || len(msg) > 300 || len(shown) > registry.MaxNameBytes+len("…") {
				t.Errorf("%s, runtime of %d bytes: echoed back in full (message of %d bytes, runtime of %d)", name, n, len(msg), len(shown))
			}
			if !strings.Contains(msg, "is not supported") || !strings.HasPrefix(shown, strings.Repeat("r", registry.MaxNameBytes)) {
				t.Errorf("%s, runtime of %d bytes: %q, runtime %q", name, n, msg, shown)
			}
		}
	}
	if diff := cmp.Diff(before, b.counts(t)); diff != "" {
		t.Fatalf("a refused call wrote rows (-before +after):\n%s", diff)
	}
	entries, err := b.store.ListAudit(t.Context(), "acme", time.Time{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range entries {
		if a.Code != modelgate.ERuntimeUnsupported || len(a.Runtime) > registry.MaxNameBytes {
			t.Errorf("audit entry %+v, want RUNTIME_UNSUPPORTED with the runtime cut", a)
		}
	}

	// Arguments are checked first (CONTRACT.md §3): a bad argument beside
	// a long runtime is still INVALID_ARGUMENT, and so is a control
	// character in the runtime itself.
	long := strings.Repeat("r", 100)
	b.mustFail(t, "provision_workspace", map[string]any{"name": "w", "runtime": long, "model": "moonshot/kimi-k2.6", "tier": 9}, modelgate.EInvalidArgument)
	b.mustFail(t, "provision_workspace", map[string]any{"name": "w", "runtime": long + "\x1b", "model": "moonshot/kimi-k2.6"}, modelgate.EInvalidArgument)
	b.mustFail(t, "list_offered_models", map[string]any{"runtime": long, "billing": "free"}, modelgate.EInvalidArgument)
	b.mustFail(t, "list_offered_models", map[string]any{"runtime": long + "\x1b"}, modelgate.EInvalidArgument)
}

func TestTools_AModelIDOfAnyLengthPastTheSyntaxGetsTheRule(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{protocol: mcp.ProtocolVersion20251125})
	before := b.counts(t)
	for _, n := range []int{registry.MaxModelIDLen + 1, 256, 257, 1000, tools.MaxStringArgBytes} {
		model := strings.Repeat("m", n)
		for _, dryRun := range []bool{true, false} {
			e := b.mustFail(t, "provision_workspace", map[string]any{"name": "z", "model": model, "dry_run": dryRun}, modelgate.EInvalidArgument)
			msg, _ := e["error"].(string)
			if msg != "model: "+registry.ModelIDRule {
				t.Errorf("model of %d bytes: %q, want the id syntax rule", n, msg)
			}
		}
	}
	// The order of CONTRACT.md §3: spaces alone are no model, however many.
	b.mustFail(t, "provision_workspace", map[string]any{"name": "z", "model": strings.Repeat(" ", 300), "dry_run": true}, modelgate.EModelRequired)
	if diff := cmp.Diff(before, b.counts(t)); diff != "" {
		t.Fatalf("a refused call wrote rows (-before +after):\n%s", diff)
	}
}

func TestTools_ASecretValuePastTheHardCapIsRefusedNamingTheSecret(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{protocol: mcp.ProtocolVersion20251125})
	before := b.counts(t)
	huge := canary + strings.Repeat("k", 70_000)
	// Trimmed, it would be a good value: the cap applies to the value as
	// given, on every path alike.
	padded := canary + strings.Repeat(" ", gate.MaxSecretInputBytes)
	tooLong := "the value of ANTHROPIC_API_KEY must be valid UTF-8 of at most 16384 bytes"
	for _, value := range []string{huge, padded, canary + strings.Repeat("k", 20_000)} {
		e := b.mustFail(t, "set_org_secret", map[string]any{"key": "ANTHROPIC_API_KEY", "value": value}, modelgate.EInvalidArgument)
		if msg := e["error"].(string); msg != "value: "+tooLong {
			t.Errorf("set_org_secret, value of %d bytes: %q, want %q", len(value), msg, "value: "+tooLong)
		}
		e = b.mustFail(t, "provision_workspace", map[string]any{"name": "w", "runtime": "claude-code", "model": "claude-sonnet-4-6", "dry_run": true,
			"secrets": map[string]any{"ANTHROPIC_API_KEY": value}}, modelgate.EInvalidArgument)
		if msg := e["error"].(string); msg != "secrets: "+tooLong {
			t.Errorf("provision_workspace secrets, value of %d bytes: %q, want %q", len(value), msg, "secrets: "+tooLong)
		}
	}
	// The key's own error comes first.
	e := b.mustFail(t, "set_org_secret", map[string]any{"key": "not a key", "value": huge}, modelgate.EInvalidArgument)
	if msg := e["error"].(string); !strings.Contains(msg, "not a credential name") {
		t.Errorf("bad key and a huge value: %q, want the key's error", msg)
	}
	e = b.mustFail(t, "set_org_secret", map[string]any{"key": "MODELGATE_PLATFORM_TOKEN", "value": huge}, modelgate.EInvalidArgument)
	if msg := e["error"].(string); !strings.Contains(msg, "reserved") {
		t.Errorf("reserved key and a huge value: %q, want the key's error", msg)
	}
	if diff := cmp.Diff(before, b.counts(t)); diff != "" {
		t.Fatalf("a refused call wrote rows (-before +after):\n%s", diff)
	}
	if strings.Contains(b.logs.String(), canary) {
		t.Fatal("a secret value reached the log")
	}
}
