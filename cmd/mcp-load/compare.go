package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"time"
)

// endpoint is one server and one request measured against it.
type endpoint struct {
	name, url, token, body string
	pid                    int
}

// compare measures modelgate (mg) against the floor server (mcp-floor)
// over stateless streamable HTTP: ping against ping, and
// list_offered_models against the floor serving the same answer bytes. The
// four measurements run in rounds, in ABBA order (the second round reverses
// the first), so that a machine that drifts favours neither server. It
// prints the rows of the bench table.
func compare(hc *http.Client, mg, floor endpoint, toolBody string, clients int, d time.Duration, rounds int) {
	pingBody := `{"jsonrpc":"2.0","id":1,"method":"ping"}`
	targets := []endpoint{
		{name: "modelgate ping", url: mg.url, token: mg.token, body: pingBody, pid: mg.pid},
		{name: "floor ping", url: floor.url, body: pingBody, pid: floor.pid},
		{name: "modelgate list_offered_models", url: mg.url, token: mg.token, body: toolBody, pid: mg.pid},
		{name: "floor same answer", url: floor.url, body: toolBody, pid: floor.pid},
	}
	idleRSSBefore := [2]string{rss(mg.pid), rss(floor.pid)}
	for _, t := range targets {
		measure(hc, t.url, t.token, t.body, clients, time.Second) // warm up, unmeasured
	}
	size := map[string]int{}
	for _, t := range targets {
		size[t.name] = responseSize(hc, t.url, t.token, t.body)
		fmt.Printf("%-30s response: %d bytes\n", t.name, size[t.name])
	}
	totals := map[string]*result{}
	for r := range rounds {
		order := targets
		if r%2 == 1 {
			order = []endpoint{targets[1], targets[0], targets[3], targets[2]}
		}
		for _, t := range order {
			cpu0 := cpuTime(t.pid)
			res := measure(hc, t.url, t.token, t.body, clients, d)
			res.serverCPU = cpuTime(t.pid) - cpu0
			fmt.Printf("round %d %-30s %s\n", r+1, t.name, res)
			if totals[t.name] == nil {
				totals[t.name] = &result{}
			}
			totals[t.name].add(res)
		}
	}
	fmt.Println("all rounds:")
	for _, t := range targets {
		fmt.Printf("  %-30s %s\n", t.name, totals[t.name])
	}
	ratio := func(a, b string) float64 { return totals[a].rate() / totals[b].rate() }
	cpuRatio := func(a, b string) float64 {
		x, y := totals[a].cpuPerRequest(), totals[b].cpuPerRequest()
		if x == 0 {
			return 0
		}
		return float64(y) / float64(x)
	}
	fmt.Printf("| authenticated ping / floor ping (%d clients, HTTP) | %.2f × (server CPU/request: %.2f ×) | ≥ 0.85 |\n",
		clients, ratio("modelgate ping", "floor ping"), cpuRatio("modelgate ping", "floor ping"))
	fmt.Printf("| list_offered_models / floor serving the same %d bytes | %.2f × (server CPU/request: %.2f ×) | ≥ 0.9 |\n",
		size["floor same answer"], ratio("modelgate list_offered_models", "floor same answer"),
		cpuRatio("modelgate list_offered_models", "floor same answer"))
	fmt.Printf("| list_offered_models / own ping (modelgate; floor) | %.2f; %.2f | report |\n",
		ratio("modelgate list_offered_models", "modelgate ping"), ratio("floor same answer", "floor ping"))
	if mg.pid > 0 {
		fmt.Printf("| idle RSS of the HTTP server before the load (modelgate; floor) | %s; %s | report |\n", idleRSSBefore[0], idleRSSBefore[1])
	}
	list := responseBody(hc, mg.url, mg.token, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	var msg struct {
		Result json.RawMessage `json:"result"`
	}
	if json.Unmarshal(list, &msg) == nil && len(msg.Result) > 0 {
		fmt.Printf("| tools/list result (bytes/4) | %d tokens (%d bytes) | ≤ 2,500 |\n", len(msg.Result)/4, len(msg.Result))
	}
}

// responseBody returns the body of the response to body, nil on failure.
func responseBody(hc *http.Client, url, token, body string) []byte {
	_, b, err := call(context.Background(), hc, url, token, body)
	if err != nil {
		return nil
	}
	return b
}

// capture writes the result object of one call of body to path: the answer
// the floor server is to serve.
func capture(hc *http.Client, url, token, body, path string) error {
	status, b, err := call(context.Background(), hc, url, token, body)
	if err != nil {
		return err
	}
	var msg struct {
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(b, &msg); err != nil || len(msg.Result) == 0 || status != http.StatusOK {
		return fmt.Errorf("capture: status %d, no result in %.200q", status, b)
	}
	if bytes.Contains(msg.Result, []byte(`"isError":true`)) {
		return fmt.Errorf("capture: the call failed: %.200q", msg.Result)
	}
	return os.WriteFile(path, msg.Result, 0o600)
}
