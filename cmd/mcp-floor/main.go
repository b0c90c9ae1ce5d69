// Command mcp-floor is the framework's floor: the most trivial MCP server
// mcp-go (the version modelgate uses) makes, for scripts/bench.sh to measure
// modelgate against on the same machine, at the same moment.
//
//	mcp-floor [-transport stdio|http] [-addr 127.0.0.1:0] [-answer FILE]
//
// It serves one no-op tool, noop, with mcp-go's defaults. With -answer it
// also serves list_offered_models, which ignores its arguments and returns
// the tool result in FILE (the "result" object of a tools/call response,
// captured from modelgate by mcp-load -capture) as a static result, so that
// both servers write the same answer bytes through the same encoder. Over
// HTTP it is stateless streamable HTTP at /mcp, like modelgate's, without
// authentication; it prints "listening on ADDR" on stderr when it accepts
// connections. It only listens on loopback addresses.
//
// Built with -tags floorsqlite it also takes -sqlite FILE (see sqlite.go):
// the floor plus the embedded store's engine, a reference for memory.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// beforeServe runs before the server serves; the floorsqlite build sets it
// (sqlite.go).
var beforeServe = func() error { return nil }

func main() {
	transport := flag.String("transport", "stdio", "stdio or http")
	addr := flag.String("addr", "127.0.0.1:0", "http: listen address (loopback only)")
	answer := flag.String("answer", "", "file holding the tool result list_offered_models returns")
	flag.Parse()
	if err := beforeServe(); err != nil {
		fmt.Fprintf(os.Stderr, "mcp-floor: %v\n", err)
		os.Exit(1)
	}
	if err := run(*transport, *addr, *answer); err != nil {
		fmt.Fprintf(os.Stderr, "mcp-floor: %v\n", err)
		os.Exit(1)
	}
}

func run(transport, addr, answer string) error {
	s := server.NewMCPServer("mcp-floor", "1.0.0", server.WithToolCapabilities(false))
	s.AddTool(mcp.NewTool("noop", mcp.WithDescription("Does nothing.")),
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText(""), nil
		})
	if answer != "" {
		res, err := loadResult(answer)
		if err != nil {
			return err
		}
		s.AddTool(mcp.NewTool("list_offered_models", mcp.WithDescription("Returns a captured answer.")),
			func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) { return res, nil })
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch transport {
	case "stdio":
		err := server.NewStdioServer(s).Listen(ctx, os.Stdin, os.Stdout)
		if errors.Is(err, context.Canceled) {
			return nil
		}
		return err
	case "http":
		host, _, err := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("-addr %q: not a loopback address", addr)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		mux := http.NewServeMux()
		mux.Handle("/mcp", server.NewStreamableHTTPServer(s, server.WithStateLess(true), server.WithDisableStreaming(true)))
		srv := &http.Server{Handler: mux}
		go func() { <-ctx.Done(); srv.Close() }()
		fmt.Fprintf(os.Stderr, "listening on %s\n", ln.Addr())
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	default:
		return fmt.Errorf("-transport %q: stdio or http", transport)
	}
}

// loadResult reads a captured tool result. The structured content is kept
// as the captured bytes, so it is written back exactly as modelgate wrote
// it (key order included).
func loadResult(path string) (*mcp.CallToolResult, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var raw struct {
		Content           []json.RawMessage `json:"content"`
		StructuredContent json.RawMessage   `json:"structuredContent"`
		IsError           bool              `json:"isError"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("-answer %s: %w", path, err)
	}
	res := &mcp.CallToolResult{IsError: raw.IsError}
	if len(raw.StructuredContent) > 0 {
		res.StructuredContent = raw.StructuredContent
	}
	for _, c := range raw.Content {
		content, err := mcp.UnmarshalContent(c)
		if err != nil {
			return nil, fmt.Errorf("-answer %s: %w", path, err)
		}
		res.Content = append(res.Content, content)
	}
	return res, nil
}
