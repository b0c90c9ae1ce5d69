package mcpserver_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/rs/zerolog"

	"github.com/modelgate/modelgate/mcpserver"
)

// At the end of input a call in flight keeps its context until it answers,
// but no longer than the drain time: a call that would run for ever is
// cancelled then, answers as a cancelled call, and ServeStdio returns nil.
func TestServeStdio_EndOfInputWaitsForCallsAtMostTheDrainTime(t *testing.T) {
	t.Parallel()
	s := server.NewMCPServer("t", "1", server.WithToolCapabilities(false))
	s.AddTool(mcp.NewTool("forever"), func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		<-ctx.Done()
		return mcp.NewToolResultError("cancelled: " + ctx.Err().Error()), nil
	})
	s.AddTool(mcp.NewTool("quick"), func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText("done"), nil
	})
	in := strings.Join([]string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"forever"}}`,
		// The last line has no newline: the end of input ends it.
		`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"quick"}}`,
	}, "\n")
	var out strings.Builder
	err := mcpserver.ServeStdio(t.Context(), s, "acme", strings.NewReader(in), &out, zerolog.Nop(), 50*time.Millisecond)
	if err != nil {
		t.Fatalf("ServeStdio = %v, want nil at the end of input", err)
	}
	for _, want := range []string{`"id":2,"result":{"content":[{"type":"text","text":"cancelled: context canceled"}],"isError":true}`, `"id":3,"result":{"content":[{"type":"text","text":"done"}]}`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %s:\n%s", want, out.String())
		}
	}
}
