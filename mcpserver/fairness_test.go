package mcpserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/mcpserver"
	"github.com/modelgate/modelgate/ratelimit"
)

// The fairness scenario of issue 6: org A floods at 10× its limit while
// org B calls well under its own. Both use real tokens over stateless
// streamable HTTP on the embedded store; docs/faults.md reports the
// numbers of BenchmarkFairness.
const (
	fairLimit  = 50 // --rate-limit: calls per second per org and per token
	fairBurst  = 10 // --burst
	floodTimes = 10 // org A sends at floodTimes × fairLimit
	// victimRate is org B's rate, under its limit.
	victimRate = 40
	// floodClients send org A's requests; enough that the flood keeps its
	// rate while the server answers.
	floodClients = 16
)

// fairCall is what both orgs call: a discovery call that reads the org's
// secret names, so it costs a query.
const fairCall = `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_offered_models","arguments":{"runtime":"claude-code"}}}`

// fairness is one measurement: org B's latencies alone and under org A's
// flood, and what the flood got.
type fairness struct {
	unloaded, loaded []time.Duration // org B's calls
	flood            floodStats
	// victimBad describes org B's calls that did not succeed.
	victimBad []string
}

// floodStats is what org A's flood sent and got.
type floodStats struct {
	sent    int
	elapsed time.Duration
	// ok and tooMany count org A's answers; admitBound is the most the
	// limiter may have admitted in the time the flood ran.
	ok, tooMany, admitBound int
	// bad describes answers that were neither a tool result nor a proper
	// 429 (empty when all were).
	bad []string
}

func (s *floodStats) add(o floodStats) {
	s.sent += o.sent
	s.elapsed += o.elapsed
	s.ok += o.ok
	s.tooMany += o.tooMany
	s.admitBound += o.admitBound
	s.bad = append(s.bad, o.bad...)
}

// rate returns the rate org A sent at, per second.
func (s floodStats) rate() float64 { return float64(s.sent) / s.elapsed.Seconds() }

// measureFairness serves the tools with the rate limit and, in each of
// rounds, measures org B's calls for d alone, then for d under org A's
// flood (alternating, so that neither gets a warmer machine).
func measureFairness(tb testing.TB, rounds int, d time.Duration) fairness {
	tb.Helper()
	b := setup(tb, setupOpts{limiter: ratelimit.New(fairLimit, fairBurst), production: true})
	tokA, tokB := b.token(tb, "org-a", false), b.token(tb, "org-b", false)
	tr := &http.Transport{MaxIdleConnsPerHost: 2 * floodClients, MaxConnsPerHost: 4 * floodClients}
	tb.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	ctx := tb.Context()

	var f fairness
	// Warm up org B's path (connection, caches) unmeasured.
	victim(ctx, hc, b.url, tokB, 200*time.Millisecond, &f.victimBad)
	for range rounds {
		f.unloaded = append(f.unloaded, victim(ctx, hc, b.url, tokB, d, &f.victimBad)...)
		stop := flood(ctx, hc, b.url, tokA)
		// Let the flood empty org A's burst before org B's measured calls.
		victim(ctx, hc, b.url, tokB, 200*time.Millisecond, &f.victimBad)
		f.loaded = append(f.loaded, victim(ctx, hc, b.url, tokB, d, &f.victimBad)...)
		f.flood.add(stop())
	}
	return f
}

// flood starts org A's calls at floodTimes × its limit, from floodClients
// clients. The returned function stops them and returns what they got.
func flood(ctx context.Context, hc *http.Client, url, token string) (stop func() floodStats) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var st floodStats
	started := time.Now()
	interval := time.Duration(float64(time.Second) * floodClients / (floodTimes * fairLimit))
	for range floodClients {
		wg.Go(func() {
			tick := time.NewTicker(interval) // paces the flood; not a synchronisation
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				status, retryAfter, body, err := send(ctx, hc, url, token, fairCall)
				if ctx.Err() != nil {
					return // cut off by the end of the flood: not an answer
				}
				mu.Lock()
				st.sent++
				switch {
				case err != nil:
					st.bad = append(st.bad, err.Error())
				case status == http.StatusOK && !strings.Contains(body, `"isError":true`):
					st.ok++
				case status == http.StatusTooManyRequests:
					st.tooMany++
					if msg := check429(retryAfter, body); msg != "" {
						st.bad = append(st.bad, msg)
					}
				default:
					// Including a RATE_LIMITED tool result: the HTTP layer
					// marks what it counted, so the tool middleware must
					// not count (and refuse) it again.
					st.bad = append(st.bad, fmt.Sprintf("%d %.200s", status, body))
				}
				mu.Unlock()
			}
		})
	}
	return func() floodStats {
		cancel()
		wg.Wait()
		st.elapsed = time.Since(started)
		st.admitBound = fairBurst + int(math.Ceil(fairLimit*st.elapsed.Seconds()))
		return st
	}
}

// victim makes org B's calls for d, one at a time at victimRate, and
// returns their latencies. A call that does not succeed is described in bad.
func victim(ctx context.Context, hc *http.Client, url, token string, d time.Duration, bad *[]string) []time.Duration {
	var lat []time.Duration
	tick := time.NewTicker(time.Second / victimRate) // paces the calls
	defer tick.Stop()
	for end := time.Now().Add(d); time.Now().Before(end); <-tick.C {
		start := time.Now()
		status, _, body, err := send(ctx, hc, url, token, fairCall)
		lat = append(lat, time.Since(start))
		if err != nil || status != http.StatusOK || strings.Contains(body, `"isError":true`) {
			*bad = append(*bad, fmt.Sprintf("%d %v %.200s", status, err, body))
		}
	}
	return lat
}

// check429 returns what is wrong with a 429 answer ("" if nothing): it must
// carry Retry-After and the RATE_LIMITED error object with its hint.
func check429(retryAfter, body string) string {
	secs, err := strconv.Atoi(retryAfter)
	if err != nil || secs < 1 {
		return fmt.Sprintf("429 with Retry-After %q, want whole seconds ≥ 1", retryAfter)
	}
	var obj map[string]any
	if json.Unmarshal([]byte(body), &obj) != nil || obj["code"] != modelgate.ERateLimited || obj["retry_after_seconds"] != float64(secs) {
		return fmt.Sprintf("429 body %s, want RATE_LIMITED with retry_after_seconds %d", body, secs)
	}
	return ""
}

// send posts a JSON-RPC request with token and returns the status, the
// Retry-After header and the body.
func send(ctx context.Context, hc *http.Client, url, token, body string) (int, string, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/mcp", strings.NewReader(body))
	if err != nil {
		return 0, "", "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", mcp.ProtocolVersion20251125)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := hc.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Retry-After"), string(b), err
}

// percentile returns the p-th percentile (0 < p ≤ 100) of ds, nearest rank.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[max(0, int(math.Ceil(p/100*float64(len(s))))-1)]
}

// fairnessBound is what the test asserts: org B's p99 under the flood is
// within 10× its unloaded p99, or under 1 s in absolute terms. It is loose
// on purpose: the test shares a 2-CPU CI machine with the race detector and
// every other package's tests, where it has measured 4.9× (198 ms). It
// catches org B queued behind org A's flood (a shared lock, a shared
// limiter), not a slowdown; the 2× target of issue 6 is measured by
// BenchmarkFairness.
func fairnessBound(unloadedP99 time.Duration) time.Duration {
	return max(10*unloadedP99, time.Second)
}

func TestRateLimit_OrgFloodingAtTenTimesItsLimitDoesNotSlowAnotherOrg(t *testing.T) {
	t.Parallel()
	f := measureFairness(t, 1, 2*time.Second)
	u99, l99 := percentile(f.unloaded, 99), percentile(f.loaded, 99)
	t.Logf("org B: %d calls alone p50 %s p99 %s; %d calls under org A's flood p50 %s p99 %s (%.1f× the p99)",
		len(f.unloaded), percentile(f.unloaded, 50), u99, len(f.loaded), percentile(f.loaded, 50), l99, float64(l99)/float64(u99))
	t.Logf("org A: sent %.0f/s (limit %d/s, burst %d): %d admitted (at most %d allowed), %d answered 429",
		f.flood.rate(), fairLimit, fairBurst, f.flood.ok, f.flood.admitBound, f.flood.tooMany)
	for _, bad := range f.victimBad {
		t.Errorf("org B's call did not succeed: %s", bad)
	}
	for i, bad := range f.flood.bad {
		if i == 5 {
			t.Errorf("… and %d more", len(f.flood.bad)-i)
			break
		}
		t.Errorf("org A: %s", bad)
	}
	if f.flood.tooMany == 0 || f.flood.ok > f.flood.admitBound {
		t.Errorf("org A: %d admitted, %d refused; want at most %d admitted and the rest refused with 429", f.flood.ok, f.flood.tooMany, f.flood.admitBound)
	}
	// How fast org A could send depends on the machine (249/s has been seen
	// under the race detector, against 500/s asked); the refusals above
	// show it was over its limit, which is all the test needs.
	if bound := fairnessBound(u99); l99 > bound {
		t.Errorf("org B's p99 under the flood %s, want at most %s (unloaded p99 %s)", l99, bound, u99)
	}
}

// BenchmarkFairness reports org B's latency alone and under org A's flood
// at 10× its limit: three alternating rounds of 4 s each (run: go test
// -run '^$' -bench Fairness ./mcpserver). p99-ratio is issue 6's number
// (target: at most 2).
func BenchmarkFairness(b *testing.B) {
	var f fairness
	for b.Loop() {
		f = measureFairness(b, 3, 4*time.Second)
	}
	if len(f.victimBad)+len(f.flood.bad) > 0 {
		b.Fatalf("failed calls: org B %v, org A %v", f.victimBad, f.flood.bad)
	}
	u99, l99 := percentile(f.unloaded, 99), percentile(f.loaded, 99)
	b.ReportMetric(float64(len(f.loaded)), "B-calls")
	b.ReportMetric(float64(percentile(f.unloaded, 50).Microseconds()), "B-p50-alone-µs")
	b.ReportMetric(float64(u99.Microseconds()), "B-p99-alone-µs")
	b.ReportMetric(float64(percentile(f.loaded, 50).Microseconds()), "B-p50-flood-µs")
	b.ReportMetric(float64(l99.Microseconds()), "B-p99-flood-µs")
	b.ReportMetric(float64(l99)/float64(u99), "p99-ratio")
	b.ReportMetric(f.flood.rate(), "A-sent/s")
	b.ReportMetric(float64(f.flood.ok)/f.flood.elapsed.Seconds(), "A-admitted/s")
	b.ReportMetric(0, "ns/op")
}

// On stdio and in-process clients there is no HTTP layer: the tool
// middleware answers a call over the limit with a RATE_LIMITED tool error
// carrying retry_after_seconds, and another org is not affected.
func TestRateLimit_InProcessCallOverTheLimitIsARateLimitedToolError(t *testing.T) {
	t.Parallel()
	b := newHandler(t, setupOpts{limiter: ratelimit.New(0.001, 2)}, mcpserver.HTTPOptions{})
	c, err := client.NewInProcessClient(b.mcp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	acme, globex := mcpserver.WithOrg(t.Context(), "acme"), mcpserver.WithOrg(t.Context(), "globex")
	if err := c.Start(acme); err != nil {
		t.Fatal(err)
	}
	init := mcp.InitializeRequest{}
	init.Params.ClientInfo = mcp.Implementation{Name: "ratelimit-test", Version: "1"}
	if _, err := c.Initialize(acme, init); err != nil {
		t.Fatal(err)
	}
	callAs := func(ctx context.Context) (map[string]any, bool) {
		t.Helper()
		req := mcp.CallToolRequest{}
		req.Params.Name = "list_offered_models"
		res, err := c.CallTool(ctx, req)
		if err != nil {
			t.Fatalf("protocol error: %v", err)
		}
		text, _ := mcp.AsTextContent(res.Content[0])
		var obj map[string]any
		if err := json.Unmarshal([]byte(text.Text), &obj); err != nil {
			t.Fatal(err)
		}
		return obj, res.IsError
	}
	for i := range 2 {
		if obj, isErr := callAs(acme); isErr {
			t.Fatalf("call %d within the burst: %v", i, obj)
		}
	}
	obj, isErr := callAs(acme)
	if secs, _ := obj["retry_after_seconds"].(float64); !isErr || obj["code"] != modelgate.ERateLimited || secs < 1 {
		t.Fatalf("call over the limit = %v (isError %v), want RATE_LIMITED with retry_after_seconds ≥ 1", obj, isErr)
	}
	if obj, isErr := callAs(globex); isErr {
		t.Fatalf("another org's call = %v, want a result", obj)
	}
}
