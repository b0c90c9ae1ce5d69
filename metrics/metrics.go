// Package metrics counts what modelgate does, for GET /metrics in the
// Prometheus text format.
//
// One *Metrics holds its own metrics (nothing is global, so tests and
// replicas in one process do not share counters) and typed helpers, one per
// thing counted. Every helper is safe on a nil *Metrics and then does
// nothing: components take a *Metrics in their options and call it
// unconditionally, and a server started without --metrics pays one nil
// check per event.
//
// Labels are bounded: tool names, error codes, runtimes and providers come
// from the server's own tool list and catalog (a caller's unknown runtime is
// counted as "unknown"), never from free text. Org names are labels only
// when Options.OrgLabels is set (--metrics-org-labels): an org name can be a
// customer's name, and the number of orgs is not bounded by the server.
//
// The package writes the text exposition format (version 0.0.4) itself
// instead of linking Prometheus' Go client: modelgate only ever writes its
// own metrics, and the client (with protobuf, procfs and its default
// registry's set-up at every start) made the binary 3.5 MB larger, its
// idle memory 2 MB larger and each start about 1 ms slower, stdio servers
// included, which never serve /metrics (docs/performance.md, issue 12).
// The storage is a few atomic integers per series (series.go), the text is
// written at scrape time (text.go), and the Go runtime and process metrics
// are a documented subset of the client's, with the same names and
// meanings (runtime.go, process_linux.go). Tests read the output with
// Prometheus' own parser (package metricstest).
package metrics

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"
)

// Namespace prefixes every metric name.
const Namespace = "modelgate"

// Outcome codes besides the contract's error codes.
const (
	// OK is the outcome of a successful call or decision.
	OK = "OK"
	// Unknown replaces a label value that is not one of the server's own
	// (an unknown runtime named by a caller), so callers cannot grow the
	// number of series.
	Unknown = "unknown"
)

// Options configure New.
type Options struct {
	// OrgLabels adds an "org" label to the per-call metrics (tool calls and
	// rate-limit refusals). Off by default: org names may be customers'
	// names, and each org adds series.
	OrgLabels bool
	// NoRuntimeMetrics leaves out the go_* and process_* metrics (tests
	// that compare exact output use it).
	NoRuntimeMetrics bool
}

// toolCallBuckets are the upper bounds of modelgate_tool_call_duration_seconds
// (0.5 ms to 10 s; +Inf is implied). Changing them changes what dashboards
// compute from the histogram.
var toolCallBuckets = [...]time.Duration{
	500 * time.Microsecond, time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond,
	250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2500 * time.Millisecond,
	5 * time.Second, 10 * time.Second,
}

// Metrics is the set of modelgate's metrics. A nil *Metrics is valid and
// counts nothing.
type Metrics struct {
	orgLabels bool

	toolCalls     *counterVec
	toolDuration  *histogramVec
	gate          *counterVec
	failOpen      *counter // the one series of gateFailOpen
	provInFlight  *gauge   // the one series of provInFlightVec
	provClaimed   *counter // the one series of provClaimedVec
	provOutcomes  *counterVec
	rateLimited   *counterVec
	storeErrors   *counterVec
	keyEntryLinks *counterVec
	credChecks    *counterVec

	// collectors write every family but the backlog, in any order (a
	// scrape sorts them); fixed by New.
	collectors []collector
	// backlog is the count WatchProvisioningBacklog was given, or nil.
	backlog atomic.Pointer[func(context.Context) (int, error)]
}

// New returns a Metrics with every metric registered. Families without
// labels are exposed at zero from the start; a family with labels shows a
// series once it has been counted.
func New(o Options) *Metrics {
	m := &Metrics{orgLabels: o.OrgLabels}
	callLabels := []string{"tool", "code"}
	durLabels := []string{"tool"}
	limitLabels := []string{"layer"}
	if o.OrgLabels {
		callLabels = append(callLabels, "org")
		durLabels = append(durLabels, "org")
		limitLabels = append(limitLabels, "org")
	}
	m.toolCalls = newCounterVec(Namespace+"_tool_calls_total",
		"Tool calls by tool and outcome code (OK or the contract's error code).", callLabels...)
	m.toolDuration = newHistogramVec(Namespace+"_tool_call_duration_seconds",
		"Time a tool call took in the server, from the MCP request to its result.", durLabels...)
	m.gate = newCounterVec(Namespace+"_gate_decisions_total",
		"BYOK gate decisions by stage (check: provision_workspace; preflight: the provisioner), runtime, provider and code.",
		"stage", "runtime", "provider", "code")
	failOpen := newCounterVec(Namespace+"_gate_fail_open_total",
		"Gate checks that could not read the org's secret names and allowed the call unverified (the provisioner re-checks).")
	m.failOpen = failOpen.with(labelValues{})
	provInFlight := newGaugeVec(Namespace+"_provisioner_jobs_in_flight",
		"Workspaces this process's provisioner has claimed and is carrying to online or failed.")
	m.provInFlight = provInFlight.with(labelValues{})
	provClaimed := newCounterVec(Namespace+"_provisioner_claimed_total",
		"Workspaces this process's provisioner claimed.")
	m.provClaimed = provClaimed.with(labelValues{})
	m.provOutcomes = newCounterVec(Namespace+"_provisioner_outcomes_total",
		"Workspaces this process's provisioner moved out of provisioning, by status and status code.",
		"status", "code")
	m.rateLimited = newCounterVec(Namespace+"_rate_limited_total",
		"Requests or tool calls refused with RATE_LIMITED, by layer (http: before MCP handling; tool: the tool middleware).",
		limitLabels...)
	m.storeErrors = newCounterVec(Namespace+"_store_errors_total",
		"Store operations that failed with an internal error (not a coded answer such as NOT_FOUND), by operation.",
		"op")
	m.keyEntryLinks = newCounterVec(Namespace+"_key_entry_links_total",
		"Key-entry link events (created, used, expired, refused, retired).", "event")
	m.credChecks = newCounterVec(Namespace+"_credential_checks_total",
		"Live credential checks by provider and outcome.", "provider", "outcome")
	m.collectors = []collector{m.toolCalls, m.toolDuration, m.gate, failOpen, provInFlight, provClaimed,
		m.provOutcomes, m.rateLimited, m.storeErrors, m.keyEntryLinks, m.credChecks}
	if !o.NoRuntimeMetrics {
		m.collectors = append(m.collectors, collectorFunc(collectGo), collectorFunc(collectProcess))
	}
	return m
}

// Handler returns the GET /metrics handler: the Prometheus text format
// 0.0.4, gzipped when the scraper accepts it (see ServeHTTP in text.go).
// On a nil Metrics it returns nil.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return nil
	}
	return handler{m}
}

// OrgLabels reports whether per-call metrics carry the org.
func (m *Metrics) OrgLabels() bool { return m != nil && m.orgLabels }

// backlogTimeout bounds the store query a scrape makes for the backlog.
const backlogTimeout = 2 * time.Second

const (
	backlogName = Namespace + "_provisioner_backlog"
	backlogHelp = "Workspaces provisioning in the store (every org, claimed or not): the provisioners' queue depth, read at scrape time."
)

// WatchProvisioningBacklog exposes modelgate_provisioner_backlog: the number
// of workspaces of every org waiting for or held by a provisioner, read with
// count (the store's CountProvisioning) at each scrape, so it is right on
// every replica whether or not it runs a provisioner. A failed read counts a
// store error and leaves the gauge out of that scrape. Call it once (a
// second call replaces the first count); it does nothing on a nil Metrics.
func (m *Metrics) WatchProvisioningBacklog(count func(context.Context) (int, error)) {
	if m == nil {
		return
	}
	m.backlog.Store(&count)
}

// collectBacklog adds the backlog gauge to fams when a count is watched and
// answers within backlogTimeout.
func (m *Metrics) collectBacklog(fams []family) []family {
	count := m.backlog.Load()
	if count == nil {
		return fams
	}
	ctx, cancel := context.WithTimeout(context.Background(), backlogTimeout)
	defer cancel()
	n, err := (*count)(ctx)
	if err != nil {
		m.StoreError("count_provisioning")
		return fams
	}
	return append(fams, single(backlogName, backlogHelp, typeGauge, float64(n)))
}

// ToolCall counts one finished tool call of org with its outcome code (OK,
// or the error code of its isError result) and how long it took.
func (m *Metrics) ToolCall(tool, code, org string, took time.Duration) {
	if m == nil {
		return
	}
	calls, dur := labelValues{tool, code}, labelValues{tool}
	if m.orgLabels {
		calls[2], dur[1] = org, org
	}
	m.toolCalls.with(calls).inc()
	m.toolDuration.with(dur).observe(took)
}

// GateDecision counts one gate decision. stage is "check" or "preflight";
// runtime must be a catalog runtime or Unknown, provider a catalog provider
// or "" (no provider was derived), code OK or the refusal's code.
func (m *Metrics) GateDecision(stage, runtime, provider, code string) {
	if m == nil {
		return
	}
	if provider == "" {
		provider = "none"
	}
	m.gate.with(labelValues{stage, runtime, provider, code}).inc()
}

// GateFailOpen counts one gate check that allowed a call unverified because
// the org's secret names could not be read.
func (m *Metrics) GateFailOpen() {
	if m == nil {
		return
	}
	m.failOpen.inc()
}

// ProvisionerClaimed counts workspaces the provisioner claimed and adds
// them to the jobs in flight.
func (m *Metrics) ProvisionerClaimed(n int) {
	if m == nil || n <= 0 {
		return
	}
	m.provClaimed.add(uint64(n))
	m.provInFlight.add(int64(n))
}

// ProvisionerJobDone takes one job off the jobs in flight, whatever became
// of it (finished, handed over by its lease, cut by shutdown).
func (m *Metrics) ProvisionerJobDone() {
	if m == nil {
		return
	}
	m.provInFlight.add(-1)
}

// ProvisionerOutcome counts one workspace moved out of provisioning by this
// process: status online or failed, code "" for online.
func (m *Metrics) ProvisionerOutcome(status, code string) {
	if m == nil {
		return
	}
	if code == "" {
		code = OK
	}
	m.provOutcomes.with(labelValues{status, code}).inc()
}

// RateLimited counts one refusal with RATE_LIMITED; layer is "http" or
// "tool".
func (m *Metrics) RateLimited(layer, org string) {
	if m == nil {
		return
	}
	lv := labelValues{layer}
	if m.orgLabels {
		lv[1] = org
	}
	m.rateLimited.with(lv).inc()
}

// StoreError counts one store operation that failed with an internal error;
// op names the operation (a fixed string such as "token_lookup").
func (m *Metrics) StoreError(op string) {
	if m == nil {
		return
	}
	m.storeErrors.with(labelValues{op}).inc()
}

// KeyEntryLink counts one key-entry link event; event is a fixed word such
// as "created", "used", "expired" or "refused".
func (m *Metrics) KeyEntryLink(event string) {
	if m == nil {
		return
	}
	m.keyEntryLinks.with(labelValues{event}).inc()
}

// CredentialCheck counts one live credential check of a catalog provider;
// outcome is a fixed word such as "valid", "invalid" or "unreachable".
func (m *Metrics) CredentialCheck(provider, outcome string) {
	if m == nil {
		return
	}
	m.credChecks.with(labelValues{provider, outcome}).inc()
}
