// Package metricstest reads a *metrics.Metrics the way Prometheus does: it
// scrapes the real GET /metrics handler and parses the answer with
// Prometheus' own text parser, so a test checks what a scraper would see,
// not the package's internals.
//
// Only tests import it: it links Prometheus' parser and protobuf types,
// which package metrics exists to keep out of the binary
// (TestBinary_LinksNoPrometheusClient in cmd/mcp-server fails otherwise).
package metricstest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/modelgate/modelgate/metrics"
)

// Scrape GETs m's handler and returns the families by name. It fails t
// when the answer is not a 200 in the text format or does not parse.
func Scrape(t testing.TB, m *metrics.Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	fams, _ := ScrapeText(t, m)
	return fams
}

// ScrapeText is Scrape that also returns the text as served.
func ScrapeText(t testing.TB, m *metrics.Metrics) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != metrics.ContentType {
		t.Fatalf("GET /metrics: %d %q\n%s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}
	text := rec.Body.String()
	return Parse(t, text), text
}

// Parse parses text in the Prometheus text format with Prometheus' own
// parser, which refuses (among others) a second HELP or TYPE line for a
// family, a TYPE line after the family's samples, badly escaped label
// values and unreadable numbers. It fails t on any of them.
func Parse(t testing.TB, text string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, text)
	}
	return fams
}

// Sum returns the sum over the series of family name whose labels include
// want: the values of counters, gauges and untyped series, the sample
// counts of histograms and summaries. It is 0 when there is no such series.
func Sum(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	var total float64
series:
	for _, m := range fams[name].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue series
			}
		}
		switch {
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		case m.Untyped != nil:
			total += m.GetUntyped().GetValue()
		case m.Histogram != nil:
			total += float64(m.GetHistogram().GetSampleCount())
		case m.Summary != nil:
			total += float64(m.GetSummary().GetSampleCount())
		}
	}
	return total
}

// Family returns the lines of family name in text as served (its HELP and
// TYPE lines and its samples, each ending in a newline), or "" when text
// has no such family. It relies on what package metrics writes: every
// family starts with its HELP line and its samples follow it.
func Family(text, name string) string {
	var b strings.Builder
	in := false
	for line := range strings.SplitAfterSeq(text, "\n") {
		if strings.HasPrefix(line, "# HELP ") {
			in = strings.HasPrefix(line, "# HELP "+name+" ")
		}
		if in {
			b.WriteString(line)
		}
	}
	return b.String()
}
