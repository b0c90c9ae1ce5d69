package mcpserver_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// BenchmarkHTTP compares, over stateless streamable HTTP on loopback with
// the embedded store, a ping (transport, authentication and JSON-RPC: the
// floor of any request) with list_offered_models. cmd/mcp-load measures the
// same from another process; docs/network.md has the numbers.
func BenchmarkHTTP(b *testing.B) {
	for _, m := range []struct{ name, body string }{
		{"ping", `{"jsonrpc":"2.0","id":1,"method":"ping"}`},
		{"list_offered_models", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_offered_models","arguments":{"runtime":"claude-code"}}}`},
	} {
		b.Run(m.name, func(b *testing.B) {
			bundle := setup(b, setupOpts{production: true})
			tok := bundle.token(b, "acme", false)
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest(http.MethodPost, bundle.url+"/mcp", strings.NewReader(m.body))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("Accept", "application/json, text/event-stream")
					req.Header.Set("MCP-Protocol-Version", "2025-11-25")
					req.Header.Set("Authorization", "Bearer "+tok)
					res, err := http.DefaultClient.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusOK {
						b.Fatal(res.Status)
					}
				}
			})
		})
	}
}
