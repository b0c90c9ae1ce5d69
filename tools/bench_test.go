package tools_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/gate"
	"github.com/modelgate/modelgate/mcpserver"
	"github.com/modelgate/modelgate/provision"
	"github.com/modelgate/modelgate/registry"
	"github.com/modelgate/modelgate/secrets"
	"github.com/modelgate/modelgate/tools"
	"github.com/rs/zerolog"
)

// noDatabase answers the one query discovery makes (the org's sealed
// secrets: one ANTHROPIC_API_KEY) without a database, so the benchmark
// measures the handler itself, decryption included.
type noDatabase struct {
	modelgate.Store
	org []modelgate.SealedSecret
}

func (n noDatabase) OrgSecrets(context.Context, string) ([]modelgate.SealedSecret, error) {
	return n.org, nil
}

// ListenOrgSecrets is a feed of org secret changes that is up and reports
// nothing: nothing changes here.
func (n noDatabase) ListenOrgSecrets(ctx context.Context, up func(bool), _ func(string)) error {
	up(true)
	<-ctx.Done()
	return nil
}

// benchService returns a service over noDatabase.
func benchService(b *testing.B) *provision.Service {
	log := zerolog.Nop()
	keys, err := secrets.NewKeyring(secrets.GenerateKey())
	if err != nil {
		b.Fatal(err)
	}
	sv, err := keys.Seal(secrets.ScopeOrg, "acme", "ANTHROPIC_API_KEY", []byte("sk-ant-bench"))
	if err != nil {
		b.Fatal(err)
	}
	db := noDatabase{org: []modelgate.SealedSecret{{Name: "ANTHROPIC_API_KEY", Sealed: sv}}}
	return provision.New(db, gate.New(registry.Default(), log), keys, log)
}

// BenchmarkListOfferedModels measures the list_offered_models handler in
// process for claude-code with no database (target: ≤ 50 µs/op): unwatched,
// each call opens the org's secrets (as with the feed of changes down);
// watched, the org's credential names are remembered, as a network server
// runs it.
func BenchmarkListOfferedModels(b *testing.B) {
	for _, watched := range []bool{false, true} {
		name := "unwatched"
		if watched {
			name = "watched"
		}
		b.Run(name, func(b *testing.B) {
			log := zerolog.Nop()
			svc := benchService(b)
			if watched {
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- svc.WatchOrgSecrets(ctx) }()
				defer func() { cancel(); <-done }()
			}
			h := tools.ListOfferedModels(tools.Deps{Service: svc, Log: log}).Handler
			ctx := mcpserver.WithOrg(context.Background(), "acme")
			req := mcp.CallToolRequest{}
			req.Params.Name = "list_offered_models"
			req.Params.Arguments = map[string]any{"runtime": "claude-code"}
			b.ReportAllocs()
			for b.Loop() {
				res, err := h(ctx, req)
				if err != nil || res.IsError {
					b.Fatal(err, res)
				}
			}
		})
	}
}

// BenchmarkResponseEncoding measures what mcp-go's streamable HTTP server
// spends encoding one answer (json.NewEncoder(w).Encode of the JSON-RPC
// response, as its handlePost does), for ping's empty result and for the
// list_offered_models answer of claude-code (structuredContent and the same
// JSON as text, as the contract asks). compact_only is the part no handler
// can avoid: CallToolResult is a json.Marshaler, so encoding/json validates
// and compacts its output again. docs/performance.md uses these numbers to
// bound the list_offered_models / ping ratio over HTTP.
func BenchmarkResponseEncoding(b *testing.B) {
	log := zerolog.Nop()
	svc := benchService(b)
	h := tools.ListOfferedModels(tools.Deps{Service: svc, Log: log}).Handler
	req := mcp.CallToolRequest{}
	req.Params.Arguments = map[string]any{"runtime": "claude-code"}
	list, err := h(mcpserver.WithOrg(context.Background(), "acme"), req)
	if err != nil || list.IsError {
		b.Fatal(err, list)
	}
	for _, c := range []struct {
		name   string
		result any
	}{
		{"ping", mcp.EmptyResult{}},
		{"list_offered_models", list},
	} {
		b.Run(c.name, func(b *testing.B) {
			resp := mcp.NewJSONRPCResultResponse(mcp.NewRequestId(1), c.result)
			var buf bytes.Buffer
			if err := json.NewEncoder(&buf).Encode(resp); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(buf.Len()))
			b.ReportAllocs()
			for b.Loop() {
				buf.Reset()
				if err := json.NewEncoder(&buf).Encode(resp); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("list_offered_models/compact_only", func(b *testing.B) {
		out, err := list.MarshalJSON()
		if err != nil {
			b.Fatal(err)
		}
		var buf bytes.Buffer
		b.SetBytes(int64(len(out)))
		for b.Loop() {
			buf.Reset()
			if err := json.Compact(&buf, out); err != nil {
				b.Fatal(err)
			}
		}
	})
}
