package metrics

import (
	"compress/gzip"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// ContentType is the media type of what GET /metrics answers: the
// Prometheus text exposition format, version 0.0.4.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// The metric types a # TYPE line names.
const (
	typeCounter   = "counter"
	typeGauge     = "gauge"
	typeHistogram = "histogram"
	typeSummary   = "summary"
)

// family is one metric family as a scrape writes it: a # HELP and a # TYPE
// line, then one line per sample.
type family struct {
	name, help, typ string
	samples         []sample
}

// sample is one line of a family: the family's name with suffix (a
// histogram's "_bucket", "_sum" or "_count"), labels in the order written,
// and the value.
type sample struct {
	suffix string
	labels []labelPair
	value  float64
}

type labelPair struct{ name, value string }

// single returns a family of one sample without labels.
func single(name, help, typ string, v float64) family {
	return family{name: name, help: help, typ: typ, samples: []sample{{value: v}}}
}

// A collector adds its families to a scrape.
type collector interface {
	collect(fams []family) []family
}

// collectorFunc is a collector that is a function (the runtime and process
// metrics, read at scrape time).
type collectorFunc func(fams []family) []family

func (f collectorFunc) collect(fams []family) []family { return f(fams) }

// gather reads every family, sorted by name, as Prometheus' client does, so
// that two scrapes of the same state are the same text.
func (m *Metrics) gather() []family {
	// The backlog first: a failed read counts a store error, which this
	// scrape then already shows.
	fams := m.collectBacklog(make([]family, 0, 48))
	for _, c := range m.collectors {
		fams = c.collect(fams)
	}
	slices.SortFunc(fams, func(a, b family) int { return strings.Compare(a.name, b.name) })
	return fams
}

// appendText appends fams in the text format 0.0.4. Each family's name
// must be unique in fams; its HELP text and label values may hold any
// bytes: backslashes and newlines (and in label values double quotes) are
// escaped, and bytes that are not UTF-8 become U+FFFD, since a scraper
// refuses the whole scrape for one invalid label value.
func appendText(b []byte, fams []family) []byte {
	for _, f := range fams {
		b = append(b, "# HELP "...)
		b = append(b, f.name...)
		b = append(b, ' ')
		b = appendEscaped(b, f.help, false)
		b = append(b, "\n# TYPE "...)
		b = append(b, f.name...)
		b = append(b, ' ')
		b = append(b, f.typ...)
		b = append(b, '\n')
		for _, s := range f.samples {
			b = append(b, f.name...)
			b = append(b, s.suffix...)
			if len(s.labels) > 0 {
				b = append(b, '{')
				for i, l := range s.labels {
					if i > 0 {
						b = append(b, ',')
					}
					b = append(b, l.name...)
					b = append(b, `="`...)
					b = appendEscaped(b, l.value, true)
					b = append(b, '"')
				}
				b = append(b, '}')
			}
			b = append(b, ' ')
			b = appendFloat(b, s.value)
			b = append(b, '\n')
		}
	}
	return b
}

// appendEscaped appends s escaped for a HELP text (quoted false) or a
// label value (quoted true).
func appendEscaped(b []byte, s string, quoted bool) []byte {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '"' && quoted:
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// appendFloat appends v as Prometheus' client writes a value: NaN, +Inf and
// -Inf by name, otherwise the shortest text that reads back as v ('g'
// format) — except that a whole number is written in full, without an
// exponent (1234567, where the client writes 1.234567e+06), up to 2^53,
// beyond which a float64 no longer holds every integer.
func appendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, +1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	case v == math.Trunc(v) && math.Abs(v) <= 1<<53:
		return strconv.AppendInt(b, int64(v), 10)
	default:
		return strconv.AppendFloat(b, v, 'g', -1, 64)
	}
}

// handler serves GET and HEAD /metrics.
type handler struct{ m *Metrics }

// gzipWriters keeps gzip writers between scrapes: each holds several
// hundred KB of compression state.
var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed) // a valid level: no error
	return w
}}

// ServeHTTP answers GET and HEAD with every family in the text format,
// gzipped when the request's Accept-Encoding admits gzip (Prometheus sends
// it), and any other method with 405.
func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body := appendText(make([]byte, 0, 16<<10), h.m.gather())
	hdr := w.Header()
	hdr.Set("Content-Type", ContentType)
	hdr.Add("Vary", "Accept-Encoding")
	if !acceptsGzip(strings.Join(r.Header.Values("Accept-Encoding"), ",")) {
		hdr.Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body) // a scraper that went away is not an error here
		return
	}
	hdr.Set("Content-Encoding", "gzip")
	gz := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(gz)
	gz.Reset(w)
	_, _ = gz.Write(body)
	_ = gz.Close()
}

// acceptsGzip reports whether an Accept-Encoding value admits gzip: gzip
// listed with a q-value above zero, or, when gzip is not listed, "*" with
// one.
func acceptsGzip(accept string) bool {
	gzipQ, starQ := -1.0, -1.0
	for part := range strings.SplitSeq(accept, ",") {
		coding, params, _ := strings.Cut(part, ";")
		switch coding = strings.TrimSpace(coding); {
		case strings.EqualFold(coding, "gzip"):
			gzipQ = qValue(params)
		case coding == "*":
			starQ = qValue(params)
		}
	}
	if gzipQ >= 0 {
		return gzipQ > 0
	}
	return starQ > 0
}

// qValue returns the q parameter of a content coding's parameters, 1 when
// it is absent or unreadable.
func qValue(params string) float64 {
	for p := range strings.SplitSeq(params, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(name, "q") {
			if q, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
				return q
			}
		}
	}
	return 1
}
