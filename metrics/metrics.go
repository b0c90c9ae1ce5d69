// Package metrics counts what modelgate does, for GET /metrics in the
// Prometheus text format.
//
// One *Metrics holds its own registry (not the global one, so tests and
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
package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
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
	// NoRuntimeMetrics leaves out the Go runtime and process collectors
	// (tests that compare exact output use it).
	NoRuntimeMetrics bool
}

// Metrics is the set of modelgate's metrics. A nil *Metrics is valid and
// counts nothing.
type Metrics struct {
	reg       *prometheus.Registry
	orgLabels bool

	toolCalls     *prometheus.CounterVec
	toolDuration  *prometheus.HistogramVec
	gate          *prometheus.CounterVec
	failOpen      prometheus.Counter
	provInFlight  prometheus.Gauge
	provClaimed   prometheus.Counter
	provOutcomes  *prometheus.CounterVec
	rateLimited   *prometheus.CounterVec
	storeErrors   *prometheus.CounterVec
	keyEntryLinks *prometheus.CounterVec
	credChecks    *prometheus.CounterVec
}

// New returns a Metrics with every metric registered (each at zero until
// counted).
func New(o Options) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), orgLabels: o.OrgLabels}
	callLabels := []string{"tool", "code"}
	limitLabels := []string{"layer"}
	if o.OrgLabels {
		callLabels = append(callLabels, "org")
		limitLabels = append(limitLabels, "org")
	}
	m.toolCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "tool_calls_total",
		Help: "Tool calls by tool and outcome code (OK or the contract's error code).",
	}, callLabels)
	durLabels := []string{"tool"}
	if o.OrgLabels {
		durLabels = append(durLabels, "org")
	}
	m.toolDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: Namespace, Name: "tool_call_duration_seconds",
		Help:    "Time a tool call took in the server, from the MCP request to its result.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, durLabels)
	m.gate = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "gate_decisions_total",
		Help: "BYOK gate decisions by stage (check: provision_workspace; preflight: the provisioner), runtime, provider and code.",
	}, []string{"stage", "runtime", "provider", "code"})
	m.failOpen = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Name: "gate_fail_open_total",
		Help: "Gate checks that could not read the org's secret names and allowed the call unverified (the provisioner re-checks).",
	})
	m.provInFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: Namespace, Name: "provisioner_jobs_in_flight",
		Help: "Workspaces this process's provisioner has claimed and is carrying to online or failed.",
	})
	m.provClaimed = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: Namespace, Name: "provisioner_claimed_total",
		Help: "Workspaces this process's provisioner claimed.",
	})
	m.provOutcomes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "provisioner_outcomes_total",
		Help: "Workspaces this process's provisioner moved out of provisioning, by status and status code.",
	}, []string{"status", "code"})
	m.rateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "rate_limited_total",
		Help: "Requests or tool calls refused with RATE_LIMITED, by layer (http: before MCP handling; tool: the tool middleware).",
	}, limitLabels)
	m.storeErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "store_errors_total",
		Help: "Store operations that failed with an internal error (not a coded answer such as NOT_FOUND), by operation.",
	}, []string{"op"})
	m.keyEntryLinks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "key_entry_links_total",
		Help: "Key-entry link events (created, used, expired, refused).",
	}, []string{"event"})
	m.credChecks = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: Namespace, Name: "credential_checks_total",
		Help: "Live credential checks by provider and outcome.",
	}, []string{"provider", "outcome"})
	m.reg.MustRegister(m.toolCalls, m.toolDuration, m.gate, m.failOpen, m.provInFlight, m.provClaimed,
		m.provOutcomes, m.rateLimited, m.storeErrors, m.keyEntryLinks, m.credChecks)
	if !o.NoRuntimeMetrics {
		m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return m
}

// Handler returns the GET /metrics handler (Prometheus text format, or
// OpenMetrics when the scraper asks for it). On a nil Metrics it returns
// nil.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return nil
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Registry returns the registry, for a component that has a metric of its
// own to register; nil on a nil Metrics.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// OrgLabels reports whether per-call metrics carry the org.
func (m *Metrics) OrgLabels() bool { return m != nil && m.orgLabels }

// backlogTimeout bounds the store query a scrape makes for the backlog.
const backlogTimeout = 2 * time.Second

// WatchProvisioningBacklog exposes modelgate_provisioner_backlog: the number
// of workspaces of every org waiting for or held by a provisioner, read with
// count (the store's CountProvisioning) at each scrape, so it is right on
// every replica whether or not it runs a provisioner. A failed read counts a
// store error and leaves the gauge out of that scrape. Call it once; it
// does nothing on a nil Metrics.
func (m *Metrics) WatchProvisioningBacklog(count func(context.Context) (int, error)) {
	if m == nil {
		return
	}
	m.reg.MustRegister(&backlog{m: m, count: count, desc: prometheus.NewDesc(
		prometheus.BuildFQName(Namespace, "provisioner", "backlog"),
		"Workspaces provisioning in the store (every org, claimed or not): the provisioners' queue depth, read at scrape time.",
		nil, nil)})
}

type backlog struct {
	m     *Metrics
	count func(context.Context) (int, error)
	desc  *prometheus.Desc
}

func (b *backlog) Describe(ch chan<- *prometheus.Desc) { ch <- b.desc }

func (b *backlog) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), backlogTimeout)
	defer cancel()
	n, err := b.count(ctx)
	if err != nil {
		b.m.StoreError("count_provisioning")
		return
	}
	ch <- prometheus.MustNewConstMetric(b.desc, prometheus.GaugeValue, float64(n))
}

// ToolCall counts one finished tool call of org with its outcome code (OK,
// or the error code of its isError result) and how long it took.
func (m *Metrics) ToolCall(tool, code, org string, took time.Duration) {
	if m == nil {
		return
	}
	if m.orgLabels {
		m.toolCalls.WithLabelValues(tool, code, org).Inc()
		m.toolDuration.WithLabelValues(tool, org).Observe(took.Seconds())
		return
	}
	m.toolCalls.WithLabelValues(tool, code).Inc()
	m.toolDuration.WithLabelValues(tool).Observe(took.Seconds())
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
	m.gate.WithLabelValues(stage, runtime, provider, code).Inc()
}

// GateFailOpen counts one gate check that allowed a call unverified because
// the org's secret names could not be read.
func (m *Metrics) GateFailOpen() {
	if m == nil {
		return
	}
	m.failOpen.Inc()
}

// ProvisionerClaimed counts workspaces the provisioner claimed and adds
// them to the jobs in flight.
func (m *Metrics) ProvisionerClaimed(n int) {
	if m == nil || n == 0 {
		return
	}
	m.provClaimed.Add(float64(n))
	m.provInFlight.Add(float64(n))
}

// ProvisionerJobDone takes one job off the jobs in flight, whatever became
// of it (finished, handed over by its lease, cut by shutdown).
func (m *Metrics) ProvisionerJobDone() {
	if m == nil {
		return
	}
	m.provInFlight.Dec()
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
	m.provOutcomes.WithLabelValues(status, code).Inc()
}

// RateLimited counts one refusal with RATE_LIMITED; layer is "http" or
// "tool".
func (m *Metrics) RateLimited(layer, org string) {
	if m == nil {
		return
	}
	if m.orgLabels {
		m.rateLimited.WithLabelValues(layer, org).Inc()
		return
	}
	m.rateLimited.WithLabelValues(layer).Inc()
}

// StoreError counts one store operation that failed with an internal error;
// op names the operation (a fixed string such as "token_lookup").
func (m *Metrics) StoreError(op string) {
	if m == nil {
		return
	}
	m.storeErrors.WithLabelValues(op).Inc()
}

// KeyEntryLink counts one key-entry link event; event is a fixed word such
// as "created", "used", "expired" or "refused".
func (m *Metrics) KeyEntryLink(event string) {
	if m == nil {
		return
	}
	m.keyEntryLinks.WithLabelValues(event).Inc()
}

// CredentialCheck counts one live credential check of a catalog provider;
// outcome is a fixed word such as "valid", "invalid" or "unreachable".
func (m *Metrics) CredentialCheck(provider, outcome string) {
	if m == nil {
		return
	}
	m.credChecks.WithLabelValues(provider, outcome).Inc()
}
