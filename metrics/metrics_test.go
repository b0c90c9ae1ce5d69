package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"

	"github.com/modelgate/modelgate/metrics"
	"github.com/modelgate/modelgate/metrics/metricstest"
)

// TestNil_EveryHelperIsSafe is the promise components rely on: with metrics
// off they hold a nil *Metrics and call it unconditionally.
func TestNil_EveryHelperIsSafe(t *testing.T) {
	t.Parallel()
	var m *metrics.Metrics
	m.ToolCall("ping", metrics.OK, "acme", time.Millisecond)
	m.GateDecision("check", "claude-code", "", metrics.OK)
	m.GateFailOpen()
	m.ProvisionerClaimed(2)
	m.ProvisionerJobDone()
	m.ProvisionerOutcome("online", "")
	m.RateLimited("http", "acme")
	m.StoreError("token_lookup")
	m.KeyEntryLink("created")
	m.CredentialCheck("anthropic-api", "valid")
	m.WatchProvisioningBacklog(func(context.Context) (int, error) { return 1, nil })
	if m.Handler() != nil || m.OrgLabels() {
		t.Fatal("a nil Metrics serves something")
	}
}

func TestNew_EveryFamilyIsExposedFromTheStart(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{NoRuntimeMetrics: true})
	m.KeyEntryLink("created")
	m.CredentialCheck("anthropic-api", "valid")
	fams := metricstest.Scrape(t, m)
	for _, name := range []string{
		"modelgate_gate_fail_open_total", "modelgate_provisioner_jobs_in_flight", "modelgate_provisioner_claimed_total",
		"modelgate_key_entry_links_total", "modelgate_credential_checks_total",
	} {
		if fams[name] == nil {
			t.Errorf("%s is not exposed (have %v)", name, slices.Sorted(maps.Keys(fams)))
		}
	}
}

// countEverything calls every helper, with label values that need escaping,
// durations on bucket bounds (a bound is inclusive) and beyond the last one.
// Its durations are binary fractions, or one per series, so that a float
// sum of seconds (Prometheus' client) and an integer sum of nanoseconds
// (this package) print the same.
func countEverything(m *metrics.Metrics) {
	m.ToolCall("list_offered_models", "OK", "acme", 250*time.Millisecond)
	m.ToolCall("list_offered_models", "OK", "acme", 500*time.Millisecond)
	m.ToolCall("list_offered_models", "OK", "beta", time.Second)
	m.ToolCall("provision_workspace", "MISSING_BYOK_CREDENTIAL", "acme", 500*time.Microsecond)
	m.ToolCall("provision_workspace", "OK", "we\"ird\\org\nline", 30*time.Second)
	m.GateDecision("check", "claude-code", "", "OK")
	m.GateDecision("preflight", "unknown", "anthropic", "MISSING_BYOK_CREDENTIAL")
	m.GateDecision("check", "codex", "openai", "OK")
	m.GateFailOpen()
	m.GateFailOpen()
	m.ProvisionerClaimed(3)
	m.ProvisionerJobDone()
	m.ProvisionerJobDone()
	m.ProvisionerOutcome("online", "")
	m.ProvisionerOutcome("failed", "PROVISION_FAILED")
	m.RateLimited("http", "acme")
	m.RateLimited("tool", "beta")
	m.StoreError("token_lookup")
	m.StoreError("claim")
	m.KeyEntryLink("created")
	m.KeyEntryLink("used")
	m.CredentialCheck("anthropic-api", "valid")
	m.WatchProvisioningBacklog(func(context.Context) (int, error) { return 7, nil })
}

// The text is byte for byte what Prometheus' Go client served for the same
// counts, so dashboards and alerts see the same families, HELP texts, types,
// label names and values, bucket bounds, escaping and order.
// testdata/client_golang_v1.25.0.txt was written by the code this package
// replaced (client_golang v1.25.0's promhttp handler on a registry holding
// the same metrics, commit e2a2056), after countEverything with
// Options{OrgLabels: true, NoRuntimeMetrics: true}. Since then one HELP
// text was edited by hand, the same in the file as in metrics.go
// (key_entry_links_total gained "retired"): the client prints a HELP text
// as given, escaping only backslashes and newlines, neither in it.
func TestHandler_WritesWhatPrometheusClientWrote(t *testing.T) {
	t.Parallel()
	want, err := os.ReadFile("testdata/client_golang_v1.25.0.txt")
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New(metrics.Options{OrgLabels: true, NoRuntimeMetrics: true})
	countEverything(m)
	_, got := metricstest.ScrapeText(t, m)
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("/metrics differs from client_golang's (-client_golang +now):\n%s", diff)
	}
}

func TestWatchProvisioningBacklog_ReadsTheStoreAtEachScrape(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{NoRuntimeMetrics: true})
	n, fail := 3, false
	var deadline bool
	m.WatchProvisioningBacklog(func(ctx context.Context) (int, error) {
		_, deadline = ctx.Deadline()
		if fail {
			return 0, errors.New("store down")
		}
		return n, nil
	})
	backlog := func() *dto.MetricFamily { return metricstest.Scrape(t, m)["modelgate_provisioner_backlog"] }
	if f := backlog(); f.GetType() != dto.MetricType_GAUGE || metricstest.Sum(map[string]*dto.MetricFamily{"b": f}, "b", nil) != 3 {
		t.Fatalf("backlog %v, want the gauge at 3", f)
	}
	if !deadline {
		t.Error("the scrape's count had no deadline: a hung store would hang the scrape")
	}
	n = 5
	if v := metricstest.Sum(metricstest.Scrape(t, m), "modelgate_provisioner_backlog", nil); v != 5 {
		t.Fatalf("backlog %v after the store changed, want 5", v)
	}
	fail = true
	fams := metricstest.Scrape(t, m)
	if fams["modelgate_provisioner_backlog"] != nil {
		t.Fatal("a failed read still exposed a backlog value")
	}
	if v := metricstest.Sum(fams, "modelgate_store_errors_total", map[string]string{"op": "count_provisioning"}); v != 1 {
		t.Fatalf("store errors %v after one failed read, in the same scrape, want 1", v)
	}
}

// Each _bucket counts the observations at or below its bound (cumulative),
// +Inf and _count count all of them, _sum adds them up.
func TestToolCall_HistogramIsCumulative(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{NoRuntimeMetrics: true})
	observed := []time.Duration{
		0, 400 * time.Microsecond, 500 * time.Microsecond, 501 * time.Microsecond, 3 * time.Millisecond,
		99 * time.Millisecond, 100 * time.Millisecond, 2 * time.Second, 10 * time.Second, time.Minute,
	}
	var sum time.Duration
	for _, d := range observed {
		m.ToolCall("ping", metrics.OK, "", d)
		sum += d
	}
	f := metricstest.Scrape(t, m)["modelgate_tool_call_duration_seconds"]
	if f.GetType() != dto.MetricType_HISTOGRAM || len(f.GetMetric()) != 1 {
		t.Fatalf("family %v, want one histogram series", f)
	}
	h := f.GetMetric()[0].GetHistogram()
	wantBounds := []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, math.Inf(+1)}
	var bounds []float64
	for _, b := range h.GetBucket() {
		bounds = append(bounds, b.GetUpperBound())
		var want uint64
		for _, d := range observed {
			if d.Seconds() <= b.GetUpperBound() {
				want++
			}
		}
		if b.GetCumulativeCount() != want {
			t.Errorf("bucket le=%v counts %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
	if diff := cmp.Diff(wantBounds, bounds); diff != "" {
		t.Errorf("bucket bounds (-want +got):\n%s", diff)
	}
	if h.GetSampleCount() != uint64(len(observed)) || h.GetSampleSum() != sum.Seconds() {
		t.Errorf("count %d sum %v, want %d and %v", h.GetSampleCount(), h.GetSampleSum(), len(observed), sum.Seconds())
	}
	if inf := h.GetBucket()[len(h.GetBucket())-1]; inf.GetCumulativeCount() != h.GetSampleCount() {
		t.Errorf("+Inf bucket %d, _count %d: they must be equal", inf.GetCumulativeCount(), h.GetSampleCount())
	}
}

// Counting from many goroutines while scrapes run loses nothing (run with
// -race: the counts, the creation of series and the scrape share memory).
func TestToolCall_ConcurrentCallsAndScrapesLoseNothing(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{OrgLabels: true})
	const goroutines, calls = 8, 500
	tools := []string{"ping", "list_offered_models", "provision_workspace"}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range calls {
				m.ToolCall(tools[i%len(tools)], metrics.OK, fmt.Sprintf("org-%d", g%3), time.Millisecond)
				m.StoreError("claim")
			}
		})
	}
	for range 20 {
		metricstest.Scrape(t, m) // fails the test if a scrape mid-count does not parse
	}
	wg.Wait()
	fams := metricstest.Scrape(t, m)
	for _, c := range []struct {
		name string
		want float64
	}{
		{"modelgate_tool_calls_total", goroutines * calls},
		{"modelgate_tool_call_duration_seconds", goroutines * calls},
		{"modelgate_store_errors_total", goroutines * calls},
	} {
		if got := metricstest.Sum(fams, c.name, nil); got != c.want {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}
	if n := len(fams["modelgate_tool_calls_total"].GetMetric()); n != len(tools)*3 {
		t.Errorf("%d tool-call series, want %d", n, len(tools)*3)
	}
}

// Families come sorted by name and series by their label values, whatever
// order they were counted in, so two scrapes of the same state are equal.
func TestHandler_OutputIsDeterministic(t *testing.T) {
	t.Parallel()
	var calls [][3]string
	for _, tool := range []string{"a", "b", "c", "d"} {
		for _, code := range []string{"OK", "FORBIDDEN", "INTERNAL"} {
			for _, org := range []string{"x", "y"} {
				calls = append(calls, [3]string{tool, code, org})
			}
		}
	}
	var texts []string
	for seed := range uint64(3) {
		m := metrics.New(metrics.Options{OrgLabels: true, NoRuntimeMetrics: true})
		r := rand.New(rand.NewPCG(seed, seed))
		r.Shuffle(len(calls), func(i, j int) { calls[i], calls[j] = calls[j], calls[i] })
		for _, c := range calls {
			m.ToolCall(c[0], c[1], c[2], time.Millisecond)
			m.GateDecision("check", c[0], c[2], c[1])
		}
		_, text := metricstest.ScrapeText(t, m)
		texts = append(texts, text)
	}
	if texts[0] != texts[1] || texts[0] != texts[2] {
		t.Fatalf("the same counts in another order gave another text:\n%s\n---\n%s", texts[0], texts[1])
	}
	var names, series []string
	for line := range strings.Lines(texts[0]) {
		if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
			names = append(names, strings.Fields(name)[0])
		}
		if rest, ok := strings.CutPrefix(line, "modelgate_tool_calls_total{"); ok {
			series = append(series, rest[:strings.IndexByte(rest, '}')])
		}
	}
	if !slices.IsSorted(names) || !slices.IsSorted(series) || len(series) != len(calls) {
		t.Errorf("not sorted: families %v\nseries %v", names, series)
	}
}

// The go_* and process_* families are the set docs/network.md lists, with
// Prometheus' names and types, and values that make sense.
func TestRuntimeMetrics_AreTheDocumentedSet(t *testing.T) {
	t.Parallel()
	fams := metricstest.Scrape(t, metrics.New(metrics.Options{}))
	want := map[string]dto.MetricType{
		"go_info": dto.MetricType_GAUGE, "go_goroutines": dto.MetricType_GAUGE, "go_threads": dto.MetricType_GAUGE,
		"go_sched_gomaxprocs_threads": dto.MetricType_GAUGE, "go_gc_duration_seconds": dto.MetricType_SUMMARY,
		"go_gc_gomemlimit_bytes":  dto.MetricType_GAUGE,
		"go_memstats_alloc_bytes": dto.MetricType_GAUGE, "go_memstats_heap_alloc_bytes": dto.MetricType_GAUGE,
		"go_memstats_alloc_bytes_total": dto.MetricType_COUNTER, "go_memstats_heap_inuse_bytes": dto.MetricType_GAUGE,
		"go_memstats_heap_idle_bytes": dto.MetricType_GAUGE, "go_memstats_heap_released_bytes": dto.MetricType_GAUGE,
		"go_memstats_heap_sys_bytes": dto.MetricType_GAUGE, "go_memstats_heap_objects": dto.MetricType_GAUGE,
		"go_memstats_mallocs_total": dto.MetricType_COUNTER, "go_memstats_frees_total": dto.MetricType_COUNTER,
		"go_memstats_stack_inuse_bytes": dto.MetricType_GAUGE, "go_memstats_sys_bytes": dto.MetricType_GAUGE,
		"go_memstats_next_gc_bytes": dto.MetricType_GAUGE, "go_memstats_last_gc_time_seconds": dto.MetricType_GAUGE,
	}
	if runtime.GOOS == "linux" {
		for name, typ := range map[string]dto.MetricType{
			"process_cpu_seconds_total": dto.MetricType_COUNTER, "process_resident_memory_bytes": dto.MetricType_GAUGE,
			"process_virtual_memory_bytes": dto.MetricType_GAUGE, "process_virtual_memory_max_bytes": dto.MetricType_GAUGE,
			"process_open_fds": dto.MetricType_GAUGE, "process_max_fds": dto.MetricType_GAUGE,
			"process_start_time_seconds": dto.MetricType_GAUGE,
		} {
			want[name] = typ
		}
	}
	got := map[string]dto.MetricType{}
	for name, f := range fams {
		if !strings.HasPrefix(name, metrics.Namespace+"_") {
			got[name] = f.GetType()
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("runtime families (-documented +served):\n%s", diff)
	}
	value := func(name string) float64 { return metricstest.Sum(fams, name, nil) }
	if info := fams["go_info"].GetMetric()[0].GetLabel(); len(info) != 1 || info[0].GetValue() != runtime.Version() {
		t.Errorf("go_info labels %v, want version=%s", info, runtime.Version())
	}
	if value("go_goroutines") < 1 || value("go_sched_gomaxprocs_threads") != float64(runtime.GOMAXPROCS(0)) ||
		value("go_memstats_heap_alloc_bytes") <= 0 || value("go_memstats_sys_bytes") < value("go_memstats_heap_sys_bytes") {
		t.Errorf("implausible Go values: goroutines %v, gomaxprocs %v, heap %v, sys %v < heap sys %v", value("go_goroutines"),
			value("go_sched_gomaxprocs_threads"), value("go_memstats_heap_alloc_bytes"), value("go_memstats_sys_bytes"), value("go_memstats_heap_sys_bytes"))
	}
	if quantiles := fams["go_gc_duration_seconds"].GetMetric()[0].GetSummary().GetQuantile(); len(quantiles) != 5 {
		t.Errorf("go_gc_duration_seconds has %d quantiles, want 5", len(quantiles))
	}
	if runtime.GOOS == "linux" {
		// Within a second of now or before: /proc/stat gives the boot time
		// in whole seconds.
		now := float64(time.Now().UnixNano()) / 1e9
		if start := value("process_start_time_seconds"); start > now+1 || start < now-7*24*3600 {
			t.Errorf("process_start_time_seconds %v, now %v", start, now)
		}
		if value("process_resident_memory_bytes") <= 0 || value("process_virtual_memory_bytes") < value("process_resident_memory_bytes") ||
			value("process_open_fds") < 3 || value("process_open_fds") > value("process_max_fds") {
			t.Errorf("implausible process values: rss %v, vsize %v, open fds %v of %v", value("process_resident_memory_bytes"),
				value("process_virtual_memory_bytes"), value("process_open_fds"), value("process_max_fds"))
		}
	}
}

// BenchmarkToolCall is the whole cost metrics add to a tool call: one
// counter and one histogram observation, with and without org labels.
func BenchmarkToolCall(b *testing.B) {
	for _, orgLabels := range []bool{false, true} {
		m := metrics.New(metrics.Options{OrgLabels: orgLabels, NoRuntimeMetrics: true})
		name := "org_labels=false"
		if orgLabels {
			name = "org_labels=true"
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					m.ToolCall("list_offered_models", metrics.OK, "acme", 250*time.Microsecond)
				}
			})
		})
	}
	b.Run("nil", func(b *testing.B) {
		var m *metrics.Metrics
		for b.Loop() {
			m.ToolCall("list_offered_models", metrics.OK, "acme", 250*time.Microsecond)
		}
	})
}

// BenchmarkScrape is the cost of one GET /metrics with the runtime and
// process metrics and a few dozen series.
func BenchmarkScrape(b *testing.B) {
	m := metrics.New(metrics.Options{})
	countEverything(m)
	h := m.Handler()
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(discard{}, &http.Request{Method: http.MethodGet, Header: http.Header{}})
	}
}

// Counting a call whose series exists allocates nothing, so metrics add no
// garbage to the server's busiest path.
func TestToolCall_AllocatesNothingForAnExistingSeries(t *testing.T) {
	for _, orgLabels := range []bool{false, true} {
		m := metrics.New(metrics.Options{OrgLabels: orgLabels, NoRuntimeMetrics: true})
		m.ToolCall("list_offered_models", metrics.OK, "acme", time.Millisecond)
		allocs := testing.AllocsPerRun(100, func() {
			m.ToolCall("list_offered_models", metrics.OK, "acme", time.Millisecond)
			m.GateDecision("check", "claude-code", "anthropic", metrics.OK)
			m.StoreError("claim")
		})
		if allocs != 0 {
			t.Errorf("org labels %v: %v allocations per call, want 0", orgLabels, allocs)
		}
	}
}
