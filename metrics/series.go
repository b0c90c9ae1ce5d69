package metrics

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxLabels is the most label names a family here has (gate decisions:
// stage, runtime, provider, code).
const maxLabels = 4

// labelValues are one series' label values, in the order of its family's
// label names; places past the family's labels stay "". An array and not a
// slice, so that it is a comparable map key and finding the series of a
// call allocates nothing.
type labelValues [maxLabels]string

// counter is one counter series. Everything modelgate counts is a whole
// number of events, so the value is an integer: one atomic add per event.
type counter struct{ n atomic.Uint64 }

func (c *counter) inc()         { c.n.Add(1) }
func (c *counter) add(n uint64) { c.n.Add(n) }

// gauge is one gauge series holding a whole number.
type gauge struct{ n atomic.Int64 }

func (g *gauge) add(n int64) { g.n.Add(n) }

// histogram is one series of the tool-call duration histogram: how many
// observations fell in each bucket of toolCallBuckets (the last place is
// the +Inf bucket), not yet cumulative, and their sum in nanoseconds. An
// observation is two atomic adds. The count is the sum of the buckets, so a
// scrape's _count always equals its +Inf bucket; _sum may lag by the
// observations under way at that instant, as in any lock-free histogram.
// The sum is an integer of nanoseconds (exact, no compare-and-swap loop on
// a float); it wraps after 584 years of summed call time.
type histogram struct {
	buckets [len(toolCallBuckets) + 1]atomic.Uint64
	sumNS   atomic.Uint64
}

// observe counts one duration in the first bucket whose upper bound is at
// least d (Prometheus' "le": less than or equal). A negative duration, which
// a monotonic clock does not produce, counts as zero.
func (h *histogram) observe(d time.Duration) {
	d = max(d, 0)
	i := 0
	for i < len(toolCallBuckets) && d > toolCallBuckets[i] {
		i++
	}
	h.buckets[i].Add(1)
	h.sumNS.Add(uint64(d))
}

// desc is what a scrape writes about a family besides its samples.
type desc struct {
	name, help, typ string
	// labels are the label names, in the order the helpers pass values.
	labels []string
	// byName are the indexes of labels sorted by label name: the order in
	// which a sample names them, and in which series are sorted, as
	// Prometheus' Go client does, so that the text does not change with
	// the move away from it.
	byName []int
}

func newDesc(name, help, typ string, labels []string) desc {
	if len(labels) > maxLabels {
		panic("metrics: " + name + " has more labels than maxLabels")
	}
	byName := make([]int, len(labels))
	for i := range byName {
		byName[i] = i
	}
	slices.SortFunc(byName, func(a, b int) int { return strings.Compare(labels[a], labels[b]) })
	return desc{name: name, help: help, typ: typ, labels: labels, byName: byName}
}

// pairs returns the label pairs of the series with values lv, in name order.
func (d *desc) pairs(lv labelValues) []labelPair {
	out := make([]labelPair, len(d.byName))
	for i, j := range d.byName {
		out[i] = labelPair{d.labels[j], lv[j]}
	}
	return out
}

// compare orders two series of the family by their label values, taken in
// label-name order.
func (d *desc) compare(a, b labelValues) int {
	for _, j := range d.byName {
		if c := strings.Compare(a[j], b[j]); c != 0 {
			return c
		}
	}
	return 0
}

// vec is one family's series of kind S (a counter, gauge or histogram), one
// per set of label values, created when first counted.
//
// The series are in a sync.Map, whose reads take no lock and write no
// shared memory: on the hot path (the series exists) two cores counting
// the same tool call contend only on the series' own counters. Measured
// against a map behind a sync.RWMutex, whose read lock is itself a shared
// counter: 48 against 78 ns for the two look-ups of a tool call, on 2
// CPUs. Looking up an array key allocates nothing (the key does not escape;
// TestToolCall_AllocatesNothingForAnExistingSeries keeps it so). A
// copy-on-write map would read as fast, but with --metrics-org-labels the
// series grow with the orgs, and copying the map for each new one would
// make that growth quadratic.
type vec[S any] struct {
	desc
	series sync.Map // labelValues → *S
}

func newVec[S any](name, help, typ string, labels []string) vec[S] {
	return vec[S]{desc: newDesc(name, help, typ, labels)}
}

// with returns the series with label values lv, creating it at zero if it
// does not exist yet.
func (v *vec[S]) with(lv labelValues) *S {
	if s, ok := v.series.Load(lv); ok {
		return s.(*S)
	}
	s, _ := v.series.LoadOrStore(lv, new(S))
	return s.(*S)
}

// entry is one series of a vec at a scrape.
type entry[S any] struct {
	lv labelValues
	s  *S
}

// sorted returns the series in the order a scrape writes them. (The keys
// are sorted rather than the entries so that one sort is compiled for
// every kind of series.)
func (v *vec[S]) sorted() []entry[S] {
	var keys []labelValues
	v.series.Range(func(k, _ any) bool {
		keys = append(keys, k.(labelValues))
		return true
	})
	slices.SortFunc(keys, v.compare)
	out := make([]entry[S], len(keys))
	for i, k := range keys {
		s, _ := v.series.Load(k) // series are never removed
		out[i] = entry[S]{k, s.(*S)}
	}
	return out
}

type counterVec struct{ vec[counter] }

func newCounterVec(name, help string, labels ...string) *counterVec {
	return &counterVec{newVec[counter](name, help, typeCounter, labels)}
}

func (v *counterVec) collect(fams []family) []family {
	f := family{name: v.name, help: v.help, typ: v.typ}
	for _, e := range v.sorted() {
		f.samples = append(f.samples, sample{labels: v.pairs(e.lv), value: float64(e.s.n.Load())})
	}
	return appendFamily(fams, f)
}

type gaugeVec struct{ vec[gauge] }

func newGaugeVec(name, help string, labels ...string) *gaugeVec {
	return &gaugeVec{newVec[gauge](name, help, typeGauge, labels)}
}

func (v *gaugeVec) collect(fams []family) []family {
	f := family{name: v.name, help: v.help, typ: v.typ}
	for _, e := range v.sorted() {
		f.samples = append(f.samples, sample{labels: v.pairs(e.lv), value: float64(e.s.n.Load())})
	}
	return appendFamily(fams, f)
}

type histogramVec struct{ vec[histogram] }

func newHistogramVec(name, help string, labels ...string) *histogramVec {
	return &histogramVec{newVec[histogram](name, help, typeHistogram, labels)}
}

// bucketBounds are the "le" values of toolCallBuckets as written, +Inf last.
var bucketBounds = func() []string {
	out := make([]string, 0, len(toolCallBuckets)+1)
	for _, b := range toolCallBuckets {
		out = append(out, string(appendFloat(nil, b.Seconds())))
	}
	return append(out, "+Inf")
}()

// collect writes each series as Prometheus does: one cumulative _bucket
// sample per bound with the le label last, then _sum and _count.
func (v *histogramVec) collect(fams []family) []family {
	f := family{name: v.name, help: v.help, typ: v.typ}
	for _, e := range v.sorted() {
		labels := v.pairs(e.lv)
		var cumulative uint64
		for i := range e.s.buckets {
			cumulative += e.s.buckets[i].Load()
			// labels[:n:n] makes append copy: each bucket gets its own le.
			f.samples = append(f.samples, sample{suffix: "_bucket",
				labels: append(labels[:len(labels):len(labels)], labelPair{"le", bucketBounds[i]}),
				value:  float64(cumulative)})
		}
		f.samples = append(f.samples,
			sample{suffix: "_sum", labels: labels, value: float64(e.s.sumNS.Load()) / 1e9},
			sample{suffix: "_count", labels: labels, value: float64(cumulative)})
	}
	return appendFamily(fams, f)
}

// appendFamily adds f to fams unless it has no series yet: as with
// Prometheus' client, a family with labels appears once it has been counted.
func appendFamily(fams []family, f family) []family {
	if len(f.samples) == 0 {
		return fams
	}
	return append(fams, f)
}
