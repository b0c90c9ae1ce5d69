package mcpserver_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/metrics"
	"github.com/modelgate/modelgate/metrics/metricstest"
	"github.com/modelgate/modelgate/ratelimit"
	dto "github.com/prometheus/client_model/go"
)

// scrape fetches GET /metrics of the real server without a token and
// parses it with Prometheus' own text parser. It also returns the raw text.
func scrape(t *testing.T, url string) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url+"/metrics", nil)
	res, body := do(t, req)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != metrics.ContentType {
		t.Fatalf("GET /metrics: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	return metricstest.Parse(t, body), body
}

// sum adds the values of a family's series whose labels include want.
var sum = metricstest.Sum

// labelNames returns every label name used by a family's series.
func labelNames(fams map[string]*dto.MetricFamily, name string) map[string]bool {
	out := map[string]bool{}
	for _, m := range fams[name].GetMetric() {
		for _, l := range m.GetLabel() {
			out[l.GetName()] = true
		}
	}
	return out
}

const secretOrg = "acme-holdings-private"

func TestMetrics_ToolCallsGateDecisionsAndRefusalsAreCounted(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{metrics: metrics.New(metrics.Options{})})
	before, _ := scrape(t, b.url)
	if n := sum(before, "modelgate_tool_calls_total", nil); n != 0 {
		t.Fatalf("tool calls before any call: %v", n)
	}

	c := b.connect(t, b.token(t, secretOrg, false), mcp.ProtocolVersion20251125, nil)
	lifecycle(t, c) // 2 list/get calls of each kind, a MISSING_BYOK_CREDENTIAL refusal, a provision
	for range 3 {
		mustCall(t, c, "list_offered_models", map[string]any{"runtime": "claude-code"})
	}
	odd, _, err := call(t, c, "provision_workspace", map[string]any{"name": "x", "runtime": "no-such-runtime", "model": "m"})
	if err != nil {
		t.Fatal(err)
	}
	oddCode, _ := odd["code"].(string)
	ro := b.connect(t, b.token(t, secretOrg, true), mcp.ProtocolVersion20251125, nil)
	if _, _, err := call(t, ro, "set_org_secret", map[string]any{"key": "OPENAI_API_KEY", "value": canary}); err != nil {
		t.Fatal(err)
	}

	fams, text := scrape(t, b.url)
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"modelgate_tool_calls_total", map[string]string{"tool": "list_offered_models", "code": "OK"}, 4},
		{"modelgate_tool_calls_total", map[string]string{"tool": "provision_workspace", "code": "OK"}, 1},
		{"modelgate_tool_calls_total", map[string]string{"tool": "provision_workspace", "code": modelgate.EMissingCredential}, 1},
		{"modelgate_tool_calls_total", map[string]string{"tool": "provision_workspace", "code": oddCode}, 1},
		{"modelgate_tool_calls_total", map[string]string{"tool": "set_org_secret", "code": modelgate.EForbidden}, 1},
		{"modelgate_tool_call_duration_seconds", map[string]string{"tool": "list_offered_models"}, 4},
		{"modelgate_gate_decisions_total", map[string]string{"stage": "check", "code": "OK"}, 1},
		{"modelgate_gate_decisions_total", map[string]string{"stage": "check", "code": modelgate.EMissingCredential}, 1},
		// A caller's made-up runtime does not become a label value.
		{"modelgate_gate_decisions_total", map[string]string{"stage": "check", "runtime": metrics.Unknown, "code": oddCode}, 1},
		{"modelgate_gate_fail_open_total", nil, 0},
	} {
		if got := sum(fams, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// The BYOK refusal names the provider that would need the key.
	for _, m := range fams["modelgate_gate_decisions_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "runtime" && l.GetValue() == "no-such-runtime" {
				t.Error("the caller's runtime string became a label value")
			}
		}
	}
	if got := sum(fams, "modelgate_gate_decisions_total", map[string]string{"code": modelgate.EMissingCredential, "provider": "none"}); got != 0 {
		t.Error("the MISSING_BYOK_CREDENTIAL decision has no provider label")
	}
	// Org names are not labels unless asked for.
	if labelNames(fams, "modelgate_tool_calls_total")["org"] || strings.Contains(text, secretOrg) {
		t.Errorf("an org name reached /metrics without --metrics-org-labels")
	}
	if strings.Contains(text, canary) {
		t.Error("a secret value reached /metrics")
	}
}

func TestMetrics_OrgLabelsOnlyWhenAskedFor(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{metrics: metrics.New(metrics.Options{OrgLabels: true})})
	c := b.connect(t, b.token(t, secretOrg, false), mcp.ProtocolVersion20251125, nil)
	mustCall(t, c, "list_offered_models", nil)
	fams, _ := scrape(t, b.url)
	if got := sum(fams, "modelgate_tool_calls_total", map[string]string{"tool": "list_offered_models", "org": secretOrg}); got != 1 {
		t.Fatalf("tool calls of org %s = %v, want 1", secretOrg, got)
	}
}

func TestMetrics_RateLimitRefusalsAreCounted(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{limiter: ratelimit.New(0.001, 2), metrics: metrics.New(metrics.Options{})})
	tok := b.token(t, "acme", false)
	codes := map[int]int{}
	for range 4 {
		res, _ := post(t, b.url+"/mcp", tok, ping)
		codes[res.StatusCode]++
	}
	fams, _ := scrape(t, b.url)
	if got := sum(fams, "modelgate_rate_limited_total", map[string]string{"layer": "http"}); got != float64(codes[http.StatusTooManyRequests]) || got != 2 {
		t.Fatalf("rate_limited_total{layer=http} = %v; answers %v", got, codes)
	}
}

func TestMetrics_OtherMethodsAreNotAllowed(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{metrics: metrics.New(metrics.Options{})})
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		req, _ := http.NewRequestWithContext(t.Context(), method, b.url+"/metrics", nil)
		res, body := do(t, req)
		if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") == "" {
			t.Errorf("%s /metrics: %d, Allow %q, %s; want 405 with Allow", method, res.StatusCode, res.Header.Get("Allow"), body)
		}
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodHead, b.url+"/metrics", nil)
	if res, _ := do(t, req); res.StatusCode != http.StatusOK {
		t.Errorf("HEAD /metrics: %d, want 200", res.StatusCode)
	}
}

func TestMetrics_OffMeansNoEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, b.url+"/metrics", nil)
	if res, body := do(t, req); res.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /metrics with metrics off: %d %s", res.StatusCode, body)
	}
}
