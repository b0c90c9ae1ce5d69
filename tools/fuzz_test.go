package tools_test

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/mcpserver"
	"github.com/modelgate/modelgate/sqlite"
	"github.com/modelgate/modelgate/tools"
	"github.com/rs/zerolog"
)

// knownCodes are the codes a tool may answer with (CONTRACT.md §4).
var knownCodes = map[string]bool{
	modelgate.EInvalidArgument: true, modelgate.ERuntimeUnsupported: true,
	modelgate.EModelRequired: true, modelgate.EUnregisteredModel: true, modelgate.EProviderNotInRegistry: true,
	modelgate.EMissingCredential: true, modelgate.ENameConflict: true, modelgate.ENotFound: true,
	modelgate.EConfirmationRequired: true,
}

// FuzzToolArguments sends arbitrary argument objects to every tool through
// the MCP server: no panic, no protocol error for a well-formed call, and a
// refusal is always a coded error object (never INTERNAL).
func FuzzToolArguments(f *testing.F) {
	for _, seed := range []string{
		`{}`, `null`, `[]`, `"x"`, `{"runtime":"codex"}`, `{"name":"a","model":"moonshot/kimi-k2.6"}`,
		`{"name":"a","model":"claude-sonnet-4-6","secrets":{"ANTHROPIC_API_KEY":"k"}}`,
		`{"name":"\u0000","model":"x","tier":1e308}`, `{"limit":-1,"cursor":"%%%"}`, `{"id":"x","confirm_name":"x"}`,
		`{"key":"A","value":"v"}`, `{"name":"a","model":"gpt-5.5","runtime":"codex","wait_seconds":0.5}`,
		`{"secrets":{"A":null}}`, `{"name":["a"],"model":{"x":1}}`,
	} {
		for tool := range 8 {
			f.Add(uint8(tool), seed)
		}
	}
	db, err := sqlite.Open(f.Context(), filepath.Join(f.TempDir(), "fuzz.db"), sqlite.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	log := zerolog.Nop()
	svc, _ := newService(f, db, log)
	all := tools.All(tools.Deps{Service: svc, Log: log})
	s, err := mcpserver.New(mcpserver.Options{Deps: tools.Deps{Service: svc, Log: log}, ValidateOutput: true})
	if err != nil {
		f.Fatal(err)
	}
	ctx := mcpserver.WithOrg(f.Context(), "fuzz")
	f.Fuzz(func(t *testing.T, tool uint8, args string) {
		var v any
		if json.Unmarshal([]byte(args), &v) != nil {
			return // not JSON: the transport refuses it before any tool runs
		}
		name := all[int(tool)%len(all)].Tool.Name
		if obj, ok := v.(map[string]any); ok {
			if w, ok := obj["wait_seconds"].(float64); ok && w > 0 {
				obj["wait_seconds"] = 0.0 // keep each input fast
			}
		}
		msg, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/call",
			"params": map[string]any{"name": name, "arguments": v}})
		resp := s.HandleMessage(ctx, msg)
		raw, _ := json.Marshal(resp)
		var out struct {
			Error  *json.RawMessage `json:"error"`
			Result *mcp.CallToolResult
		}
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s(%s): unreadable response %s", name, args, raw)
		}
		if out.Error != nil {
			if _, isObject := v.(map[string]any); isObject || v == nil {
				t.Fatalf("%s(%s): protocol error %s for a well-formed call", name, args, *out.Error)
			}
			return
		}
		if out.Result == nil || !out.Result.IsError {
			return
		}
		text, _ := mcp.AsTextContent(out.Result.Content[0])
		var e struct {
			Code  string `json:"code"`
			Error string `json:"error"`
		}
		if err := json.Unmarshal([]byte(text.Text), &e); err != nil || !knownCodes[e.Code] || e.Error == "" {
			t.Fatalf("%s(%s): error result %s is not a known coded error", name, args, text.Text)
		}
	})
}
