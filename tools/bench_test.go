package tools_test

import (
	"context"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/gate"
	"github.com/modelgate/modelgate/mcpserver"
	"github.com/modelgate/modelgate/provision"
	"github.com/modelgate/modelgate/registry"
	"github.com/modelgate/modelgate/tools"
	"github.com/rs/zerolog"
)

// noDatabase answers the one query discovery makes without a database, so
// the benchmark measures the handler itself.
type noDatabase struct{ modelgate.Store }

func (noDatabase) OrgSecretNames(context.Context, string) ([]string, error) {
	return []string{"ANTHROPIC_API_KEY"}, nil
}

// BenchmarkListOfferedModels measures the list_offered_models handler in
// process for claude-code with no database (target: ≤ 50 µs/op).
func BenchmarkListOfferedModels(b *testing.B) {
	log := zerolog.Nop()
	svc := provision.New(noDatabase{}, gate.New(registry.Default(), log), nil, log)
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
}
