package metrics_test

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelgate/modelgate/metrics"
	"github.com/modelgate/modelgate/metrics/metricstest"
)

// serve sends one request to m's handler.
func serve(m *metrics.Metrics, method string, header http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "/metrics", nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, req)
	return rec
}

// Prometheus sends Accept-Encoding: gzip; the body is then gzipped and
// decompresses to the same text as a plain scrape.
func TestHandler_GzipsWhenTheScraperAcceptsIt(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{NoRuntimeMetrics: true})
	countEverything(m)
	plain := serve(m, http.MethodGet, nil)
	if plain.Header().Get("Content-Encoding") != "" || plain.Header().Get("Content-Length") != strconv.Itoa(plain.Body.Len()) {
		t.Fatalf("plain scrape: headers %v", plain.Header())
	}
	for _, c := range []struct {
		accept string
		gzip   bool
	}{
		{"gzip", true},
		{"identity, GZIP;q=0.5", true},
		{"*", true},
		{"gzip;q=0, *", false},
		{"br, deflate", false},
		{"", false},
	} {
		rec := serve(m, http.MethodGet, http.Header{"Accept-Encoding": {c.accept}})
		if got := rec.Header().Get("Content-Encoding") == "gzip"; got != c.gzip {
			t.Errorf("Accept-Encoding %q: gzipped %v, want %v", c.accept, got, c.gzip)
			continue
		}
		if rec.Header().Get("Content-Type") != metrics.ContentType || !strings.Contains(rec.Header().Get("Vary"), "Accept-Encoding") {
			t.Errorf("Accept-Encoding %q: headers %v", c.accept, rec.Header())
		}
		body := rec.Body.String()
		if c.gzip {
			zr, err := gzip.NewReader(rec.Body)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			body = string(b)
		}
		if body != plain.Body.String() {
			t.Errorf("Accept-Encoding %q: body differs from the plain scrape:\n%s", c.accept, body)
		}
	}
}

func TestHandler_AnswersOnlyGetAndHead(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{NoRuntimeMetrics: true})
	if rec := serve(m, http.MethodHead, nil); rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != metrics.ContentType {
		t.Errorf("HEAD: %d %v", rec.Code, rec.Header())
	}
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		if rec := serve(m, method, nil); rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: %d, Allow %q; want 405 and GET, HEAD", method, rec.Code, rec.Header().Get("Allow"))
		}
	}
}

// An org name reaches a label with --metrics-org-labels: whatever bytes it
// holds, the scrape parses and gives back the name (invalid UTF-8 replaced,
// since a scraper refuses the whole scrape for it).
func TestHandler_EscapesLabelValues(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{OrgLabels: true, NoRuntimeMetrics: true})
	org := "a \"quoted\" \\ back\\slash\nnew line, {brace}=\xff"
	m.ToolCall("ping", metrics.OK, org, time.Millisecond)
	fams, text := metricstest.ScrapeText(t, m)
	want := "a \"quoted\" \\ back\\slash\nnew line, {brace}=\uFFFD"
	if got := metricstest.Sum(fams, "modelgate_tool_calls_total", map[string]string{"org": want}); got != 1 {
		t.Errorf("no tool-call series with org %q:\n%s", want, text)
	}
	if !strings.Contains(text, `org="a \"quoted\" \\ back\\slash\nnew line, {brace}=`+"\uFFFD\"") {
		t.Errorf("label value not escaped as the format says:\n%s", text)
	}
}

// discard is a ResponseWriter that keeps nothing, for the benchmark.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}
