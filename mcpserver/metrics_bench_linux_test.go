//go:build linux

package mcpserver_test

import (
	"context"
	"encoding/json"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/mcpserver"
	"github.com/modelgate/modelgate/metrics"
	"golang.org/x/sys/unix"
)

// BenchmarkMetricsCost measures what --metrics adds to a request: the same
// JSON-RPC message handled in process (no HTTP, so loopback noise does not
// drown the difference) by three MCP servers: metrics off, metrics on, and
// a second one with metrics off, the control, whose ratio to the first
// shows how far two identical servers measure apart. On a shared machine
// the load changes from second to second, so the three are interleaved
// finely: rounds of 300 messages each, in an order that rotates every round,
// each timed by the CPU time of the thread that handles them
// (CLOCK_THREAD_CPUTIME_ID, the goroutine locked to its thread), which other
// processes' load inflates far less than wall time. Reported: the median
// CPU time per message of each and the medians of the per-round ratios
// on/off and control/off. Run with -benchtime 1x (b.N is not used).
// scripts/measure-metrics.sh measures the same over HTTP from another
// process.
func BenchmarkMetricsCost(b *testing.B) {
	const rounds, perRound = 60, 300
	for _, m := range []struct{ name, body string }{
		{"ping", `{"jsonrpc":"2.0","id":1,"method":"ping"}`},
		{"list_offered_models", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_offered_models","arguments":{"runtime":"claude-code"}}}`},
	} {
		b.Run(m.name, func(b *testing.B) {
			servers := []*server.MCPServer{
				newHandler(b, setupOpts{production: true}, mcpserver.HTTPOptions{}).mcp,
				newHandler(b, setupOpts{production: true, metrics: metrics.New(metrics.Options{})}, mcpserver.HTTPOptions{}).mcp,
				newHandler(b, setupOpts{production: true}, mcpserver.HTTPOptions{}).mcp,
			}
			ctx := modelgate.WithCaller(context.Background(), modelgate.Caller{Org: "acme", TokenPrefix: "bench"})
			msg := json.RawMessage(m.body)
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			run := func(s *server.MCPServer) float64 {
				start := threadCPU(b)
				for range perRound {
					if res, ok := s.HandleMessage(ctx, msg).(mcp.JSONRPCResponse); !ok {
						b.Fatalf("%T %v", res, res)
					}
				}
				return float64(threadCPU(b)-start) / perRound
			}
			for _, s := range servers {
				run(s) // warm up
			}
			per := make([][]float64, len(servers))
			var onOff, controlOff []float64
			for r := range rounds {
				t := make([]float64, len(servers))
				for k := range servers {
					i := (r + k) % len(servers)
					t[i] = run(servers[i])
				}
				for i := range servers {
					per[i] = append(per[i], t[i])
				}
				onOff, controlOff = append(onOff, t[1]/t[0]), append(controlOff, t[2]/t[0])
			}
			median := func(x []float64) float64 { slices.Sort(x); return x[len(x)/2] }
			b.ReportMetric(median(per[0]), "off-ns/msg")
			b.ReportMetric(median(per[1]), "on-ns/msg")
			b.ReportMetric(median(onOff), "on/off")
			b.ReportMetric(median(controlOff), "control/off")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// threadCPU returns the CPU time the calling OS thread has used.
func threadCPU(b *testing.B) time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ts.Nano())
}
