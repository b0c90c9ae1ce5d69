package tools_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"github.com/modelgate/modelgate/internal/testlog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/gate"
	"github.com/modelgate/modelgate/mcpserver"
	"github.com/modelgate/modelgate/provision"
	"github.com/modelgate/modelgate/registry"
	"github.com/modelgate/modelgate/secrets"
	"github.com/modelgate/modelgate/sqlite"
	"github.com/modelgate/modelgate/tools"
	"github.com/rs/zerolog"
)

var update = flag.Bool("update", false, "rewrite the tool definition snapshots in testdata/")

// canary is a secret value used throughout; it must never come back.
const canary = "sk-canary-7f3a9c1e-never-show-me"

type testBundle struct {
	client *client.Client
	store  *sqlite.DB
	keys   *secrets.Keyring // what the service seals with
	logs   *testlog.Buffer
	ctx    context.Context // carries the caller (org "acme")
}

type setupOpts struct {
	protocol    string // "" = the client's default
	org         string
	callTimeout time.Duration
	// lookupErr, when set, makes every org secret-name lookup fail with it.
	lookupErr error
	// limits are the service's per-org limits (zero: none).
	limits provision.Limits
}

// newService returns the provision service over store with a fresh random
// keyring, which it also returns (a provisioner must open with the same keys).
func newService(tb testing.TB, store modelgate.Store, log zerolog.Logger) (*provision.Service, *secrets.Keyring) {
	tb.Helper()
	keys, err := secrets.NewKeyring(secrets.GenerateKey())
	if err != nil {
		tb.Fatal(err)
	}
	return provision.New(store, gate.New(registry.Default(), log), keys, log), keys
}

// failingLookup is the store with the gate's org lookup (the read of the
// org's secrets) broken.
type failingLookup struct {
	*sqlite.DB
	err error
}

func (f failingLookup) OrgSecrets(context.Context, string) ([]modelgate.SealedSecret, error) {
	return nil, f.err
}

// feedUp passes a store on and closes upped at the first up(true) of its
// feed of org secret changes.
type feedUp struct {
	modelgate.Store
	upped chan struct{}
	once  sync.Once
}

func (f *feedUp) ListenOrgSecrets(ctx context.Context, up func(bool), changed func(string)) error {
	return f.Store.ListenOrgSecrets(ctx, func(u bool) {
		up(u)
		if u {
			f.once.Do(func() { close(f.upped) })
		}
	}, changed)
}

func setup(t *testing.T, o setupOpts) testBundle {
	t.Helper()
	if o.org == "" {
		o.org = "acme"
	}
	logs := &testlog.Buffer{}
	log := zerolog.New(logs)
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "modelgate.db"), sqlite.Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var store modelgate.Store = db
	if o.lookupErr != nil {
		store = failingLookup{DB: db, err: o.lookupErr}
	}
	feed := &feedUp{Store: store, upped: make(chan struct{})}
	svc, keys := newService(t, feed, log)
	svc = svc.WithLimits(o.limits)
	// Discovery remembers each org's credentials as the server does, so
	// every test here runs with that cache.
	watchCtx, stopWatch := context.WithCancel(context.Background())
	watched := make(chan error, 1)
	go func() { watched <- svc.WatchOrgSecrets(watchCtx) }()
	t.Cleanup(func() {
		stopWatch()
		if err := <-watched; err != nil {
			t.Errorf("WatchOrgSecrets: %v", err)
		}
	})
	select {
	case <-feed.upped:
	case <-time.After(10 * time.Second):
		t.Fatal("the org secret feed did not come up")
	}
	s, err := mcpserver.New(mcpserver.Options{Deps: tools.Deps{Service: svc, Log: log}, Version: "test", ValidateOutput: true, CallTimeout: o.callTimeout})
	if err != nil {
		t.Fatal(err)
	}
	var opts []client.ClientOption
	if o.protocol != "" {
		opts = append(opts, client.WithProtocolVersion(o.protocol))
	}
	c, err := client.NewInProcessClientWithOptions(s, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx := mcpserver.WithOrg(t.Context(), o.org)
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	init := mcp.InitializeRequest{}
	init.Params.ClientInfo = mcp.Implementation{Name: "tools-test", Version: "1"}
	res, err := c.Initialize(ctx, init)
	if err != nil {
		t.Fatalf("initialize: %v", err)
	}
	if o.protocol != "" && res.ProtocolVersion != o.protocol {
		t.Fatalf("negotiated %s, want %s", res.ProtocolVersion, o.protocol)
	}
	return testBundle{client: c, store: db, keys: keys, logs: logs, ctx: ctx}
}

// call calls a tool and returns the decoded structured result, or the
// decoded error object for an isError result.
func (b testBundle) call(t *testing.T, tool string, args map[string]any) (ok map[string]any, errObj map[string]any) {
	t.Helper()
	return b.callCtx(t, b.ctx, tool, args)
}

func (b testBundle) callCtx(t *testing.T, ctx context.Context, tool string, args map[string]any) (ok map[string]any, errObj map[string]any) {
	t.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name = tool
	req.Params.Arguments = args
	res, err := b.client.CallTool(ctx, req)
	if err != nil {
		t.Fatalf("%s: protocol error: %v", tool, err)
	}
	raw, _ := json.Marshal(res)
	if strings.Contains(string(raw), canary) {
		t.Fatalf("%s: the canary secret value appears in a result", tool)
	}
	if len(res.Content) != 1 {
		t.Fatalf("%s: %d content blocks, want 1", tool, len(res.Content))
	}
	text, isText := mcp.AsTextContent(res.Content[0])
	if !isText {
		t.Fatalf("%s: content is not text", tool)
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(text.Text), &obj); err != nil {
		t.Fatalf("%s: text is not a JSON object: %q", tool, text.Text)
	}
	if res.IsError {
		if res.StructuredContent != nil {
			t.Fatalf("%s: error result carries structuredContent", tool)
		}
		if obj["code"] == nil || obj["error"] == nil {
			t.Fatalf("%s: error object lacks code/error: %v", tool, obj)
		}
		return nil, obj
	}
	sc, _ := json.Marshal(res.StructuredContent)
	var structured map[string]any
	if err := json.Unmarshal(sc, &structured); err != nil {
		t.Fatalf("%s: structuredContent: %v", tool, err)
	}
	if diff := cmp.Diff(structured, obj); diff != "" {
		t.Fatalf("%s: text and structuredContent differ: %s", tool, diff)
	}
	return structured, nil
}

func (b testBundle) mustCall(t *testing.T, tool string, args map[string]any) map[string]any {
	t.Helper()
	ok, errObj := b.call(t, tool, args)
	if errObj != nil {
		t.Fatalf("%s(%v): %v", tool, args, errObj)
	}
	return ok
}

func (b testBundle) mustFail(t *testing.T, tool string, args map[string]any, code string) map[string]any {
	t.Helper()
	ok, errObj := b.call(t, tool, args)
	if errObj == nil {
		t.Fatalf("%s(%v) = %v, want %s", tool, args, ok, code)
	}
	if errObj["code"] != code {
		t.Fatalf("%s(%v): code %v (%v), want %s", tool, args, errObj["code"], errObj["error"], code)
	}
	return errObj
}

var protocols = []struct{ name, version string }{
	{"2025-11-25", mcp.ProtocolVersion20251125},
	{"client default", ""},
}

// TestMCP_InProcessClient runs initialize, tools/list, tools/call and an
// error result at the protocol people's clients speak and at mcp-go's default.
func TestMCP_InProcessClient(t *testing.T) {
	t.Parallel()
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{protocol: p.version})
			list, err := b.client.ListTools(b.ctx, mcp.ListToolsRequest{})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tool := range list.Tools {
				names = append(names, tool.Name)
				a := tool.Annotations
				if a.ReadOnlyHint == nil || a.DestructiveHint == nil || a.IdempotentHint == nil || a.OpenWorldHint == nil {
					t.Errorf("%s: not every annotation is explicit: %+v", tool.Name, a)
				}
				if tool.OutputSchema.Type != "object" {
					t.Errorf("%s: no output schema", tool.Name)
				}
			}
			want := []string{"delete_org_secret", "deprovision_workspace", "get_workspace", "list_offered_models", "list_org_secrets", "list_workspaces", "provision_workspace", "set_org_secret"}
			slices.Sort(names)
			if !slices.Equal(names, want) {
				t.Fatalf("tools = %v, want %v", names, want)
			}

			got := b.mustCall(t, "list_offered_models", map[string]any{"runtime": "codex"})
			if arms, _ := got["arms"].([]any); got["runtime"] != "codex" || len(arms) != 4 {
				t.Fatalf("list_offered_models = %v", got)
			}
			errObj := b.mustFail(t, "list_offered_models", map[string]any{"runtime": "langgraph"}, modelgate.ERuntimeUnsupported)
			if rts, _ := errObj["runtimes"].([]any); len(rts) != 5 {
				t.Fatalf("RUNTIME_UNSUPPORTED lists runtimes %v", errObj["runtimes"])
			}

			req := mcp.CallToolRequest{}
			req.Params.Name = "no_such_tool"
			if _, err := b.client.CallTool(b.ctx, req); err == nil {
				t.Fatal("unknown tool: want a protocol error")
			}
		})
	}
}

// TestTools_DefinitionsMatchSnapshots fails on any unreviewed change to a
// tool's definition. Run `go test ./tools -run Snapshots -update` to accept one.
func TestTools_DefinitionsMatchSnapshots(t *testing.T) {
	t.Parallel()
	for _, st := range tools.All(tools.Deps{}) {
		got, err := json.MarshalIndent(st.Tool, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, '\n')
		path := filepath.Join("testdata", "tools", st.Tool.Name+".json")
		if *update {
			os.MkdirAll(filepath.Dir(path), 0o755)
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%s: no snapshot (run with -update): %v", st.Tool.Name, err)
		}
		if diff := cmp.Diff(string(want), string(got)); diff != "" {
			t.Errorf("%s definition changed (run with -update after review):\n%s", st.Tool.Name, diff)
		}
	}
}

// TestTools_ListFitsInItsTokenBudget keeps the whole tools/list answer at
// or under 2,500 tokens (bytes / 4): a client puts it in the model's
// context on every conversation. Every tool still carries a description,
// an input schema, an output schema and its four annotations.
func TestTools_ListFitsInItsTokenBudget(t *testing.T) {
	t.Parallel()
	const maxTokens = 2500
	list := struct {
		Tools []mcp.Tool `json:"tools"`
	}{}
	for _, st := range tools.All(tools.Deps{}) {
		tool := st.Tool
		a := tool.Annotations
		if tool.Description == "" || len(tool.RawInputSchema) == 0 || len(tool.RawOutputSchema) == 0 ||
			a.ReadOnlyHint == nil || a.DestructiveHint == nil || a.IdempotentHint == nil || a.OpenWorldHint == nil {
			t.Errorf("%s: lacks a description, a schema or an annotation", tool.Name)
		}
		list.Tools = append(list.Tools, tool)
	}
	raw, err := json.Marshal(list) // the result of tools/list, as sent
	if err != nil {
		t.Fatal(err)
	}
	if tokens := len(raw) / 4; tokens > maxTokens {
		t.Errorf("tools/list is %d bytes, about %d tokens; the budget is %d", len(raw), tokens, maxTokens)
	}
	t.Logf("tools/list: %d bytes, about %d tokens", len(raw), len(raw)/4)
}

// TestTools_CatalogCases runs every row of CATALOG.md's cases table through
// provision_workspace over MCP; a refused row writes nothing.
func TestTools_CatalogCases(t *testing.T) {
	t.Parallel()
	cases := []struct {
		runtime, model string
		ws             map[string]any
		org            []string
		code           string // "" = allowed
		provider       string
		scope          string
	}{
		{"claude-code", "moonshot/kimi-k2.6", nil, nil, "", "platform", "platform"},
		{"claude-code", "claude-sonnet-4-6", nil, nil, modelgate.EMissingCredential, "anthropic-api", ""},
		{"claude-code", "claude-sonnet-4-6", nil, []string{"ANTHROPIC_API_KEY"}, "", "anthropic-api", "org"},
		{"claude-code", "claude-sonnet-4-6", map[string]any{"ANTHROPIC_AUTH_TOKEN": canary}, nil, "", "anthropic-api", "workspace"},
		{"claude-code", "claude-sonet-4-6", nil, nil, modelgate.EUnregisteredModel, "", ""},
		{"claude-code", "anthropic/claude-haiku-4-5", nil, nil, modelgate.EUnregisteredModel, "", ""},
		{"claude-code", "claude-sonnet-4-7", nil, nil, modelgate.EUnregisteredModel, "", ""},
		{"codex", "gpt-5.6", nil, nil, modelgate.EUnregisteredModel, "", ""},
		{"hermes", "openrouter/anthropic/claude-3", nil, []string{"OPENROUTER_API_KEY"}, "", "openrouter", "org"},
		{"hermes", "MiniMax-M2.7", nil, nil, modelgate.EUnregisteredModel, "", ""},
		{"openclaw", "groq:llama-3", nil, nil, modelgate.EMissingCredential, "groq", ""},
		{"claude-code", "glm-4.6", nil, []string{"GLM_API_KEY"}, "", "zai", "org"},
		{"hermes", "anthropic/claude-opus-4-7", nil, nil, modelgate.EMissingCredential, "byok-anthropic", ""},
		{"hermes", "minimax/MiniMax-M2.7", nil, nil, modelgate.EMissingCredential, "byok-minimax", ""},
		{"codex", "gpt-5.5", nil, nil, modelgate.EMissingCredential, "openai-subscription", ""},
		{"codex", "gpt-5.5", nil, []string{"OPENAI_API_KEY"}, "", "openai-api", "org"},
		{"codex", "openai/gpt-5.4", nil, nil, "", "platform", "platform"},
		{"google-adk", "platform:gemini-2.5-pro", nil, nil, "", "platform", "platform"},
		{"langgraph", "anything", nil, nil, modelgate.ERuntimeUnsupported, "", ""},
		{"claude-code", "claude-sonnet-4-6", map[string]any{"ANTHROPIC_API_KEY": ""}, nil, modelgate.EInvalidArgument, "", ""},
	}
	for i, tc := range cases {
		t.Run(tc.runtime+"/"+tc.model, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{protocol: protocols[i%2].version})
			for _, k := range tc.org {
				b.mustCall(t, "set_org_secret", map[string]any{"key": k, "value": canary})
			}
			before := b.counts(t)
			args := map[string]any{"name": "ws-" + tc.model, "runtime": tc.runtime, "model": tc.model}
			if tc.ws != nil {
				args["secrets"] = tc.ws
			}
			if tc.code != "" {
				errObj := b.mustFail(t, "provision_workspace", args, tc.code)
				if tc.provider != "" && errObj["provider"] != tc.provider {
					t.Fatalf("provider %v, want %s", errObj["provider"], tc.provider)
				}
				if diff := cmp.Diff(before, b.counts(t)); diff != "" {
					t.Fatalf("a refused call wrote rows: %s", diff)
				}
				return
			}
			got := b.mustCall(t, "provision_workspace", args)
			if got["provider"] != tc.provider || got["credential_scope"] != tc.scope || got["status"] != "provisioning" {
				t.Fatalf("provision = %v", got)
			}
			w := b.mustCall(t, "get_workspace", map[string]any{"id": got["id"]})
			if w["model"] != tc.model || w["provider"] != tc.provider {
				t.Fatalf("get_workspace = %v", w)
			}
		})
	}
}

func (b testBundle) counts(t *testing.T) map[string]int64 {
	t.Helper()
	c, err := b.store.Counts(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	delete(c, "audit") // the audit trail records refusals on purpose
	return c
}

// TestTools_DiscoveryAgreesWithProvisioning checks, for every runtime and
// every listed id, that reading list_offered_models's arms as CONTRACT.md §4
// says (the first arm listing the id whose credential is available, else
// the first arm listing it, which needs no key only if platform-billed)
// gives exactly provision_workspace's answer (dry run, no workspace
// secrets) and provider.
func TestTools_DiscoveryAgreesWithProvisioning(t *testing.T) {
	t.Parallel()
	for _, orgKeys := range [][]string{nil, {"OPENAI_API_KEY"}, {"ANTHROPIC_AUTH_TOKEN", "GROQ_API_KEY"}, {"KIMI_API_KEY"}} {
		t.Run(strings.Join(orgKeys, "+"), func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{protocol: mcp.ProtocolVersion20251125})
			for _, k := range orgKeys {
				b.mustCall(t, "set_org_secret", map[string]any{"key": k, "value": canary})
			}
			for _, rt := range registry.Default().Runtimes() {
				list := b.mustCall(t, "list_offered_models", map[string]any{"runtime": rt})
				type reading struct {
					provider string
					allowed  bool
				}
				want := map[string]reading{}
				for _, a := range list["arms"].([]any) {
					a := a.(map[string]any)
					models, _ := a["models"].([]any)
					for _, m := range models {
						id := m.(string)
						r, seen := want[id]
						switch {
						case !seen:
							want[id] = reading{a["provider"].(string), a["credential_available"].(bool)}
						case !r.allowed && a["platform_billed"] == false && a["credential_available"] == true:
							want[id] = reading{a["provider"].(string), true}
						}
					}
				}
				for id, w := range want {
					got, errObj := b.call(t, "provision_workspace", map[string]any{"name": "x", "runtime": rt, "model": id, "dry_run": true})
					provider := ""
					if errObj != nil {
						provider, _ = errObj["provider"].(string)
					} else {
						provider = got["provider"].(string)
					}
					if allowed := errObj == nil; allowed != w.allowed || provider != w.provider {
						t.Fatalf("%s %s: discovery reads %+v but provision allowed=%v provider %q (%v)", rt, id, w, allowed, provider, errObj)
					}
				}
			}
		})
	}
}

func TestTools_WorkspaceLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{protocol: mcp.ProtocolVersion20251125})
	name := "Researcher 🔬 x'); DROP TABLE workspaces;--"
	got := b.mustCall(t, "provision_workspace", map[string]any{
		"name": name, "runtime": "claude-code", "model": "claude-sonnet-4-6", "role": "reads papers\nand writes notes",
		"tier": 2, "secrets": map[string]any{"ANTHROPIC_API_KEY": canary}, "idempotency_key": "k-1",
	})
	id := got["id"].(string)
	again := b.mustCall(t, "provision_workspace", map[string]any{
		"name": name, "runtime": "claude-code", "model": "claude-sonnet-4-6", "secrets": map[string]any{"ANTHROPIC_API_KEY": canary}, "idempotency_key": "k-1",
	})
	if diff := cmp.Diff(got, again); diff != "" {
		t.Fatalf("same idempotency_key, different result: %s", diff)
	}
	b.mustFail(t, "provision_workspace", map[string]any{"name": name, "model": "moonshot/kimi-k2.6"}, modelgate.ENameConflict)

	w := b.mustCall(t, "get_workspace", map[string]any{"id": id})
	if w["name"] != name || w["role"] != "reads papers\nand writes notes" || w["tier"] != float64(2) || w["status"] != "provisioning" {
		t.Fatalf("get_workspace = %v", w)
	}
	page := b.mustCall(t, "list_workspaces", map[string]any{})
	if ws := page["workspaces"].([]any); len(ws) != 1 || ws[0].(map[string]any)["id"] != id {
		t.Fatalf("list_workspaces = %v", page)
	}
	b.mustFail(t, "deprovision_workspace", map[string]any{"id": id, "confirm_name": "wrong"}, modelgate.EConfirmationRequired)
	gone := b.mustCall(t, "deprovision_workspace", map[string]any{"id": id, "confirm_name": name})
	if gone["status"] != "removed" {
		t.Fatalf("deprovision = %v", gone)
	}
	if ws := b.mustCall(t, "list_workspaces", map[string]any{})["workspaces"].([]any); len(ws) != 0 {
		t.Fatalf("removed workspace still listed: %v", ws)
	}
	if ws := b.mustCall(t, "list_workspaces", map[string]any{"status": "removed"})["workspaces"].([]any); len(ws) != 1 {
		t.Fatalf("removed workspace not listed with status=removed: %v", ws)
	}
	// The name is free again.
	b.mustCall(t, "provision_workspace", map[string]any{"name": name, "model": "moonshot/kimi-k2.6"})
	// Dry run writes nothing and says so.
	before := b.counts(t)
	dry := b.mustCall(t, "provision_workspace", map[string]any{"name": "dry", "model": "moonshot/kimi-k2.6", "dry_run": true})
	if dry["dry_run"] != true || dry["id"] != "" {
		t.Fatalf("dry run = %v", dry)
	}
	if diff := cmp.Diff(before, b.counts(t)); diff != "" {
		t.Fatalf("dry run wrote rows: %s", diff)
	}
	if strings.Contains(b.logs.String(), canary) {
		t.Fatal("the canary secret value was logged")
	}
}

func TestTools_OrgSecrets(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	b.mustCall(t, "set_org_secret", map[string]any{"key": "ANTHROPIC_API_KEY", "value": canary})
	list := b.mustCall(t, "list_org_secrets", map[string]any{})
	if s := list["secrets"].([]any); len(s) != 1 || s[0].(map[string]any)["key"] != "ANTHROPIC_API_KEY" {
		t.Fatalf("list_org_secrets = %v", list)
	}
	offered := b.mustCall(t, "list_offered_models", map[string]any{"runtime": "claude-code", "billing": "byok"})
	for _, a := range offered["arms"].([]any) {
		a := a.(map[string]any)
		if a["provider"] == "anthropic-api" && a["credential_available"] != true {
			t.Fatalf("anthropic-api not available with an org ANTHROPIC_API_KEY: %v", a)
		}
		if a["platform_billed"] == true {
			t.Fatalf("billing=byok listed a platform arm: %v", a)
		}
	}
	del := b.mustCall(t, "delete_org_secret", map[string]any{"key": "ANTHROPIC_API_KEY"})
	if del["deleted"] != true {
		t.Fatalf("delete = %v", del)
	}
	if del := b.mustCall(t, "delete_org_secret", map[string]any{"key": "ANTHROPIC_API_KEY"}); del["deleted"] != false {
		t.Fatalf("second delete = %v", del)
	}
	b.mustFail(t, "set_org_secret", map[string]any{"key": "bad-name", "value": "v"}, modelgate.EInvalidArgument)
	b.mustFail(t, "set_org_secret", map[string]any{"key": "GOOD", "value": ""}, modelgate.EInvalidArgument)
}

// TestTools_ListOfferedModelsShowsAKeyInTheVeryNextCall: with discovery's
// cache live (setup), a key stored or deleted with the tools shows in the
// very next list_offered_models, whose answer is the same bytes as text and
// as structuredContent and passes output validation (callCtx checks both).
func TestTools_ListOfferedModelsShowsAKeyInTheVeryNextCall(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	available := func() bool {
		t.Helper()
		offered := b.mustCall(t, "list_offered_models", map[string]any{"runtime": "claude-code", "provider": "anthropic-api"})
		arms := offered["arms"].([]any)
		if len(arms) != 1 {
			t.Fatalf("list_offered_models = %v, want the anthropic-api arm", offered)
		}
		return arms[0].(map[string]any)["credential_available"] == true
	}
	for i := range 2 {
		if available() {
			t.Fatalf("call %d: a credential before any key was stored", i+1)
		}
	}
	b.mustCall(t, "set_org_secret", map[string]any{"key": "ANTHROPIC_API_KEY", "value": canary})
	if !available() {
		t.Fatal("set_org_secret: the next list_offered_models has no credential")
	}
	b.mustCall(t, "delete_org_secret", map[string]any{"key": "ANTHROPIC_API_KEY"})
	if available() {
		t.Fatal("delete_org_secret: the next list_offered_models still has a credential")
	}
}

func TestTools_OrgIsolation(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{protocol: mcp.ProtocolVersion20251125})
	other := mcpserver.WithOrg(t.Context(), "globex")
	got := b.mustCall(t, "provision_workspace", map[string]any{"name": "mine", "model": "moonshot/kimi-k2.6"})
	b.mustCall(t, "set_org_secret", map[string]any{"key": "ANTHROPIC_API_KEY", "value": canary})

	if _, e := b.callCtx(t, other, "get_workspace", map[string]any{"id": got["id"]}); e == nil || e["code"] != modelgate.ENotFound {
		t.Fatalf("other org get_workspace: %v", e)
	}
	if _, e := b.callCtx(t, other, "deprovision_workspace", map[string]any{"id": got["id"], "confirm_name": "mine"}); e == nil || e["code"] != modelgate.ENotFound {
		t.Fatalf("other org deprovision: %v", e)
	}
	if ok, _ := b.callCtx(t, other, "list_workspaces", map[string]any{}); len(ok["workspaces"].([]any)) != 0 {
		t.Fatalf("other org lists A's workspaces: %v", ok)
	}
	if ok, _ := b.callCtx(t, other, "list_org_secrets", map[string]any{}); len(ok["secrets"].([]any)) != 0 {
		t.Fatalf("other org lists A's secrets: %v", ok)
	}
	if _, e := b.callCtx(t, other, "provision_workspace", map[string]any{"name": "x", "model": "claude-sonnet-4-6"}); e == nil || e["code"] != modelgate.EMissingCredential {
		t.Fatalf("other org used A's org secret: %v", e)
	}
	if _, e := b.callCtx(t, other, "provision_workspace", map[string]any{"name": "x", "model": "moonshot/kimi-k2.6", "parent_id": got["id"]}); e == nil || e["code"] != modelgate.ENotFound {
		t.Fatalf("other org used A's workspace as parent: %v", e)
	}
	// The same name is free in another org.
	if _, e := b.callCtx(t, other, "provision_workspace", map[string]any{"name": "mine", "model": "moonshot/kimi-k2.6"}); e != nil {
		t.Fatalf("same name in another org: %v", e)
	}
}

// TestTools_HostileArguments: bad input gets INVALID_ARGUMENT (or the gate's
// code) and never a protocol error or a crash.
func TestTools_HostileArguments(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	long := strings.Repeat("x", 256)
	cases := []struct {
		tool string
		args map[string]any
		code string
	}{
		{"provision_workspace", map[string]any{"model": "moonshot/kimi-k2.6"}, modelgate.EInvalidArgument},
		{"provision_workspace", map[string]any{"name": "", "model": "moonshot/kimi-k2.6"}, modelgate.EInvalidArgument},
		{"provision_workspace", map[string]any{"name": long, "model": "moonshot/kimi-k2.6"}, modelgate.EInvalidArgument},
		{"provision_workspace", map[string]any{"name": "a\x00b", "model": "moonshot/kimi-k2.6"}, modelgate.EInvalidArgument},
		{"provision_workspace", map[string]any{"name": "a\u202eb\x1b[31m", "model": "moonshot/kimi-k2.6"}, modelgate.EInvalidArgument},
		{"provision_workspace", map[string]any{"name": 42, "model": "moonshot/kimi-k2.6"}, modelgate.EInvalidArgument},
		{"provision_workspace", map[string]any{"name": "a", "model": ""}, modelgate.EModelRequired},
		{"provision_workspace", map[string]any{"name": "a", "model": "   "}, modelgate.EModelRequired},
		{"provision_workspace", map[string]any{"name": "a", "modle": "moonshot/kimi-k2.6"}, modelgate.EInvalidArgument},
		{"provision_workspace", map[string]any{"name": "a", "model": "moonshot/kimi-k2.6", "tier": 5}, modelgate.EInvalidArgument},
		{"provision_workspace", map[string]any{"name": "a", "model": "moonshot/kimi-k2.6", "tier": 2.5}, modelgate.EInvalidArgument},
		{"provision_workspace", map[string]any{"name": "a", "model": "moonshot/kimi-k2.6", "tier": 0}, modelgate.EInvalidArgument},
		{"provision_workspace", map[string]any{"name": "a", "model": "moonshot/kimi-k2.6", "secrets": "KEY=v"}, modelgate.EInvalidArgument},
		{"provision_workspace", map[string]any{"name": "a", "model": "moonshot/kimi-k2.6", "secrets": map[string]any{"K": 1}}, modelgate.EInvalidArgument},
		{"provision_workspace", map[string]any{"name": "a", "model": "moonshot/kimi-k2.6", "secrets": map[string]any{"lower": "v"}}, modelgate.EInvalidArgument},
		{"provision_workspace", map[string]any{"name": "a", "model": "moonshot/kimi-k2.6", "role": strings.Repeat("r", 1001)}, modelgate.EInvalidArgument},
		{"provision_workspace", map[string]any{"name": "a", "model": "moonshot/kimi-k2.6", "idempotency_key": strings.Repeat("k", 129)}, modelgate.EInvalidArgument},
		{"provision_workspace", map[string]any{"name": "a", "model": "moonshot/kimi-k2.6", "parent_id": "no-such"}, modelgate.ENotFound},
		{"provision_workspace", map[string]any{"name": "a", "model": strings.Repeat("m", 300)}, modelgate.EInvalidArgument},
		{"provision_workspace", map[string]any{"name": "a", "model": "moonshot/kimi-k2.6", "dry_run": "yes"}, modelgate.EInvalidArgument},
		{"get_workspace", map[string]any{"id": "'; select 1;--"}, modelgate.ENotFound},
		{"get_workspace", map[string]any{"id": strings.Repeat("i", 65)}, modelgate.EInvalidArgument},
		{"get_workspace", map[string]any{}, modelgate.EInvalidArgument},
		{"list_workspaces", map[string]any{"limit": 0}, modelgate.EInvalidArgument},
		{"list_workspaces", map[string]any{"limit": 201}, modelgate.EInvalidArgument},
		{"list_workspaces", map[string]any{"cursor": "not-a-cursor"}, modelgate.EInvalidArgument},
		{"list_workspaces", map[string]any{"status": "deleted"}, modelgate.EInvalidArgument},
		{"list_offered_models", map[string]any{"billing": "free"}, modelgate.EInvalidArgument},
		{"set_org_secret", map[string]any{"key": "K", "value": strings.Repeat("v", gate.MaxSecretValueBytes+1)}, modelgate.EInvalidArgument},
		{"delete_org_secret", map[string]any{"key": "../../etc"}, modelgate.EInvalidArgument},
	}
	for _, tc := range cases {
		errObj := b.mustFail(t, tc.tool, tc.args, tc.code)
		if msg, _ := errObj["error"].(string); msg == "" {
			t.Errorf("%s %v: empty message", tc.tool, tc.args)
		}
	}
	// Every refused provision_workspace is in the audit trail, including
	// those refused while decoding its arguments.
	refused := 0
	for _, tc := range cases {
		if tc.tool == "provision_workspace" {
			refused++
		}
	}
	if entries, err := b.store.ListAudit(t.Context(), "acme", time.Time{}, 1000); err != nil || len(entries) != refused {
		t.Errorf("audit has %d entries (%v) for %d refused provision calls", len(entries), err, refused)
	}
	// A value pasted where a credential name goes never comes back.
	for _, tc := range []struct {
		tool string
		args map[string]any
	}{
		{"set_org_secret", map[string]any{"key": "ANTHROPIC_API_KEY=" + canary, "value": "v"}},
		{"delete_org_secret", map[string]any{"key": canary}},
		{"list_offered_models", map[string]any{canary: "x"}},
		{"provision_workspace", map[string]any{"name": "a", "model": "claude-sonnet-4-6", "secrets": map[string]any{canary: "v"}}},
		{"provision_workspace", map[string]any{"name": "a", "model": "claude-sonnet-4-6", "secrets": map[string]any{canary: 1}}},
		{"provision_workspace", map[string]any{"name": "a", "model": "claude-sonnet-4-6", "secrets": map[string]any{canary: nil}}},
	} {
		b.mustFail(t, tc.tool, tc.args, modelgate.EInvalidArgument) // call() fails the test if the canary comes back
	}
}

// TestTools_FailOpenWhenOrgLookupFails is the last row of CATALOG.md's cases
// through the tool: claude-sonnet-4-6 with the org lookup failing is allowed
// (credential_scope "unverified") with a warning logged, and the workspace
// is created for the provisioner's backstop to decide.
func TestTools_FailOpenWhenOrgLookupFails(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{protocol: mcp.ProtocolVersion20251125, lookupErr: errors.New("connection reset by peer")})
	got := b.mustCall(t, "provision_workspace", map[string]any{"name": "w", "runtime": "claude-code", "model": "claude-sonnet-4-6"})
	if got["credential_scope"] != "unverified" || got["provider"] != "anthropic-api" || got["status"] != "provisioning" {
		t.Fatalf("provision with a failing org lookup = %v, want allowed, unverified", got)
	}
	if logs := b.logs.String(); !strings.Contains(logs, `"level":"warn"`) || !strings.Contains(logs, "fail-open") {
		t.Fatalf("no fail-open warning logged:\n%s", logs)
	}
	// Discovery does not promise a key it could not see.
	offered := b.mustCall(t, "list_offered_models", map[string]any{"runtime": "claude-code", "billing": "byok"})
	for _, m := range offered["arms"].([]any) {
		if m.(map[string]any)["credential_available"] != false {
			t.Fatalf("credential_available true with a failing lookup: %v", m)
		}
	}
}
