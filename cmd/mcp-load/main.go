// Command mcp-load measures a running modelgate server from a second
// process on the same machine; docs/network.md reports its numbers.
//
//	mcp-load -url http://127.0.0.1:8080/mcp -token $TOKEN [-c 32] [-d 10s] [-pid PID]
//
// compares, over stateless streamable HTTP and in the same run, the
// throughput and latency of `ping` (mcp-go's built-in, the floor of what any
// request costs: transport, authentication, JSON-RPC) with those of
// `tools/call list_offered_models`, alternating rounds so that neither gets
// a warmer machine.
//
//	mcp-load -sse 1000 -url http://127.0.0.1:8080/sse -token $TOKEN -pid PID
//
// opens that many SSE sessions, waits until each has received its endpoint
// event, and reports the server's resident memory (VmRSS of -pid).
//
//	mcp-load -capture answer.json -url ... -token $TOKEN
//	mcp-load -url ... -token $TOKEN -pid PID -floor http://127.0.0.1:PORT/mcp -floor-pid FPID
//
// capture one list_offered_models result, and measure modelgate against
// cmd/mcp-floor serving that captured result (scripts/bench.sh runs both).
//
//	mcp-load -startup 15 -server bin/mcp-server -floor-bin bin/mcp-floor
//
// measures process start → initialize response on stdio, interleaved, for
// modelgate on an existing and on a fresh data dir and for the floor
// server, and the idle RSS of each (see startup.go); with
// -floor-sqlite-bin bin/mcp-floor-sqlite also the floor plus the SQLite
// engine, as a reference.
//
// It only talks to loopback addresses, and every run is bounded by -d.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	var (
		target   = flag.String("url", "http://127.0.0.1:8080/mcp", "server URL: the /mcp endpoint, or /sse with -sse")
		token    = flag.String("token", os.Getenv("MODELGATE_TOKEN"), "bearer token [$MODELGATE_TOKEN]")
		clients  = flag.Int("c", 32, "concurrent clients")
		duration = flag.Duration("d", 10*time.Second, "length of each measured round (at most 2m)")
		rounds   = flag.Int("rounds", 2, "rounds of each method, alternating")
		pid      = flag.Int("pid", 0, "server process whose VmRSS to report")
		sse      = flag.Int("sse", 0, "open this many SSE sessions and report memory, instead of the throughput run")
		toolArgs = flag.String("args", `{"runtime":"claude-code"}`, "arguments of list_offered_models (JSON object)")
		capPath  = flag.String("capture", "", "write the result of one list_offered_models call to this file and exit")
		floorURL = flag.String("floor", "", "URL of an mcp-floor server (serving the -capture file): compare modelgate against it")
		floorPID = flag.Int("floor-pid", 0, "the floor server's process, for its CPU time")
		startup  = flag.Int("startup", 0, "measure start → initialize on stdio this many times per kind, instead of the HTTP run")
		mgBin    = flag.String("server", "bin/mcp-server", "-startup: modelgate's binary")
		floorBin = flag.String("floor-bin", "bin/mcp-floor", "-startup: the floor server's binary")
		floorSQL = flag.String("floor-sqlite-bin", "", "-startup: also measure this mcp-floor built with -tags floorsqlite (a reference)")
	)
	flag.Parse()
	if *startup > 0 {
		if err := measureStartup(*startup, *mgBin, *floorBin, *floorSQL); err != nil {
			fail("%v", err)
		}
		return
	}
	u, err := url.Parse(*target)
	if err != nil || !loopback(u.Hostname()) {
		fail("-url must be an http URL on a loopback address, got %q", *target)
	}
	if *duration <= 0 || *duration > 2*time.Minute || *clients < 1 || *clients > 1024 || *rounds < 1 || *rounds > 10 {
		fail("-d must be in (0, 2m], -c in [1, 1024], -rounds in [1, 10]")
	}
	if *pid > 0 {
		fmt.Printf("server RSS before: %s\n", rss(*pid))
	}
	if *sse > 0 {
		if *sse > 5000 {
			fail("-sse: at most 5000 sessions")
		}
		openSSE(*target, *token, *sse, *pid)
		return
	}
	methods := []struct{ name, body string }{
		{"ping", `{"jsonrpc":"2.0","id":1,"method":"ping"}`},
		{"list_offered_models", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_offered_models","arguments":` + *toolArgs + `}}`},
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *clients, MaxConnsPerHost: *clients}, Timeout: 30 * time.Second}
	if *capPath != "" {
		if err := capture(hc, *target, *token, methods[1].body, *capPath); err != nil {
			fail("%v", err)
		}
		return
	}
	if *floorURL != "" {
		if f, err := url.Parse(*floorURL); err != nil || !loopback(f.Hostname()) {
			fail("-floor must be an http URL on a loopback address, got %q", *floorURL)
		}
		fmt.Printf("%d clients, %d rounds of %s per measurement (ABBA order), stateless streamable HTTP\n", *clients, *rounds, *duration)
		compare(hc, endpoint{url: *target, token: *token, pid: *pid}, endpoint{url: *floorURL, pid: *floorPID}, methods[1].body, *clients, *duration, *rounds)
		return
	}
	fmt.Printf("%d clients, %d rounds of %s per method, stateless streamable HTTP at %s\n", *clients, *rounds, *duration, *target)
	// Warm up both paths (connections, caches, the Go runtime) unmeasured.
	for _, m := range methods {
		measure(hc, *target, *token, m.body, *clients, time.Second)
	}
	for _, m := range methods {
		fmt.Printf("%-20s response: %d bytes\n", m.name, responseSize(hc, *target, *token, m.body))
	}
	totals := map[string]*result{}
	for r := range *rounds {
		for _, m := range methods {
			cpu0 := cpuTime(*pid)
			res := measure(hc, *target, *token, m.body, *clients, *duration)
			res.serverCPU = cpuTime(*pid) - cpu0
			fmt.Printf("round %d %-20s %s\n", r+1, m.name, res)
			if totals[m.name] == nil {
				totals[m.name] = &result{}
			}
			totals[m.name].add(res)
		}
	}
	fmt.Println("all rounds:")
	for _, m := range methods {
		fmt.Printf("  %-20s %s\n", m.name, totals[m.name])
	}
	fmt.Printf("list_offered_models / ping throughput: %.2f\n", totals["list_offered_models"].rate()/totals["ping"].rate())
	if *pid > 0 {
		p, l := totals["ping"].cpuPerRequest(), totals["list_offered_models"].cpuPerRequest()
		fmt.Printf("server CPU per request: ping %s, list_offered_models %s; ratio %.2f (the throughput ratio of a CPU-bound server)\n",
			p.Round(time.Microsecond), l.Round(time.Microsecond), float64(p)/float64(l))
	}
	if *pid > 0 {
		fmt.Printf("server RSS after: %s\n", rss(*pid))
	}
}

// result is what one measured run saw.
type result struct {
	n, errors int
	elapsed   time.Duration
	latencies []time.Duration
	// serverCPU is the CPU time the server process used meanwhile (-pid).
	serverCPU time.Duration
}

func (r *result) add(o *result) {
	r.n += o.n
	r.errors += o.errors
	r.elapsed += o.elapsed
	r.serverCPU += o.serverCPU
	r.latencies = append(r.latencies, o.latencies...)
}

func (r *result) cpuPerRequest() time.Duration {
	if r.n == 0 {
		return 0
	}
	return r.serverCPU / time.Duration(r.n)
}

func (r *result) rate() float64 { return float64(r.n) / r.elapsed.Seconds() }

func (r *result) String() string {
	slices.Sort(r.latencies)
	q := func(p float64) time.Duration {
		if len(r.latencies) == 0 {
			return 0
		}
		return r.latencies[min(len(r.latencies)-1, int(p*float64(len(r.latencies))))]
	}
	cpu := ""
	if r.serverCPU > 0 {
		cpu = fmt.Sprintf("  server CPU %s/req", r.cpuPerRequest().Round(time.Microsecond))
	}
	return fmt.Sprintf("%8.0f req/s  p50 %7s  p99 %7s  max %7s%s  (%d requests, %d errors)",
		r.rate(), q(0.50).Round(time.Microsecond), q(0.99).Round(time.Microsecond), q(1).Round(time.Microsecond), cpu, r.n, r.errors)
}

// measure runs clients loops posting body for d and returns what they saw.
// A response counts as an error unless it is 200 with a JSON-RPC result
// that is not an isError tool result.
func measure(hc *http.Client, target, token, body string, clients int, d time.Duration) *result {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	per := make([]*result, clients)
	start := time.Now()
	for i := range clients {
		per[i] = &result{}
		wg.Go(func() {
			r := per[i]
			for ctx.Err() == nil {
				t0 := time.Now()
				ok := post(ctx, hc, target, token, body)
				if ctx.Err() != nil {
					return // cut off by the deadline: not a sample
				}
				r.latencies = append(r.latencies, time.Since(t0))
				r.n++
				if !ok {
					r.errors++
				}
			}
		})
	}
	wg.Wait()
	total := &result{}
	for _, r := range per {
		total.add(r)
	}
	total.elapsed = time.Since(start)
	return total
}

// call posts one JSON-RPC message as the streamable HTTP transport does and
// returns the status and the body of the answer.
func call(ctx context.Context, hc *http.Client, target, token, body string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2025-11-25")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

// post reports whether one call of body succeeded: a 200 with a result
// that is not an error result.
func post(ctx context.Context, hc *http.Client, target, token, body string) bool {
	status, b, err := call(ctx, hc, target, token, body)
	return err == nil && status == http.StatusOK && bytes.Contains(b, []byte(`"result"`)) && !bytes.Contains(b, []byte(`"isError":true`))
}

// responseSize returns the size of one response body to body, -1 on failure.
func responseSize(hc *http.Client, target, token, body string) int {
	_, b, err := call(context.Background(), hc, target, token, body)
	if err != nil {
		return -1
	}
	return len(b)
}

// openSSE opens n SSE sessions, waits for each endpoint event, reports the
// server's memory, holds the sessions a few seconds and reports it again.
func openSSE(target, token string, n, pid int) {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n, DisableCompression: true}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var opened, failed atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64) // open them 64 at a time
	bodies := make(chan io.Closer, n)
	start := time.Now()
	for range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
			req.Header.Set("Accept", "text/event-stream")
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			res, err := hc.Do(req)
			if err != nil || res.StatusCode != http.StatusOK {
				failed.Add(1)
				return
			}
			sc := bufio.NewScanner(res.Body)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "data: ") {
					opened.Add(1)
					bodies <- res.Body
					return
				}
			}
			failed.Add(1)
			res.Body.Close()
		})
	}
	wg.Wait()
	fmt.Printf("opened %d SSE sessions (%d failed) in %s\n", opened.Load(), failed.Load(), time.Since(start).Round(time.Millisecond))
	if pid > 0 {
		fmt.Printf("server RSS with %d open SSE sessions: %s\n", opened.Load(), rss(pid))
		time.Sleep(3 * time.Second)
		fmt.Printf("server RSS with %d open SSE sessions, 3s later: %s\n", opened.Load(), rss(pid))
	}
	close(bodies)
	for b := range bodies {
		b.Close()
	}
}

// cpuTime returns the user and system CPU time a process has used, from
// /proc/PID/stat (in clock ticks of 10 ms), or 0 without a process.
func cpuTime(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; fields count from its end.
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// rss returns the VmRSS line of a process.
func rss(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return err.Error()
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strings.Join(strings.Fields(v), " ")
		}
	}
	return "unknown"
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "mcp-load: "+format+"\n", args...)
	os.Exit(2)
}
