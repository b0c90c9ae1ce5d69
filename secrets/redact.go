package secrets

import (
	"cmp"
	"fmt"
	"iter"
	"slices"
	"strings"
)

// redacted is what Redact puts in place of a secret value.
const redacted = "[REDACTED]"

// MinLineLength is the shortest line of a multi-line value that is redacted
// on its own. Lines are matched one by one because a tool may print one line
// of a PEM key or of a JSON credential file, but short lines ("}", "-----",
// "a") are common words of any message: redacting them everywhere would
// make messages unreadable and would reveal nothing that guarding eight
// bytes does not. Shorter lines are still redacted as part of the whole
// value. Whole values are redacted whatever their length.
const MinLineLength = 8

// Redactor removes known secret values from text before it is logged or
// returned. It finds a value whatever mix of common escapings each of its
// characters is written in: as it is, percent-encoded (either hex case, "+"
// for a space), \xHH, octal, \uHHHH (surrogate pairs too), \UHHHHHHHH and
// \u{…}, HTML and XML references (&#NN;, &#xHH;, &lt; &gt; &amp; &quot;
// &apos;), backslash-escaped (JSON's \" \\ \/, shell and printf %q) and
// shell-single-quoted (a quote closes the quotes, is written as \' or "'"
// and opens them again), and split by NUL bytes (UTF-16 text). It does so
// by decoding the text into a canonical form once (see decode.go) rather
// than by listing the escaped forms of each value, which missed every
// escaper but the listed ones. It also removes each line of a multi-line
// value of at least MinLineLength bytes, in the same forms. Its cost is
// linear in the length of the text times the number of values. It is safe
// for concurrent use, and it prints as the number of values it holds, never
// the values.
type Redactor struct {
	// values are the secret values as given, distinct and non-empty; they
	// are what String counts.
	values []string
	// needles are what is removed: the values and their lines of at least
	// MinLineLength bytes, distinct and non-empty, as given (matched in the
	// raw text) and folded (matched in the decoded text).
	needles, folded []string
}

// NewRedactor returns a redactor for the given secret values. Empty values
// are ignored; every other value is redacted whatever its length, so a
// one-character value redacts that character everywhere. It never fails.
func NewRedactor(values ...string) *Redactor {
	var vs, needles []string
	for _, v := range values {
		if v == "" {
			continue
		}
		vs = append(vs, v)
		needles = append(needles, v)
		if !strings.ContainsAny(v, "\r\n") {
			continue
		}
		for _, line := range strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == '\r' }) {
			if line = strings.TrimSpace(line); len(line) >= MinLineLength {
				needles = append(needles, line)
			}
		}
	}
	var folded []string
	for _, n := range needles {
		if f := fold(n); f != "" {
			folded = append(folded, f)
		}
	}
	slices.Sort(vs)
	slices.Sort(needles)
	slices.Sort(folded)
	return &Redactor{values: slices.Compact(vs), needles: slices.Compact(needles), folded: slices.Compact(folded)}
}

// needlesFor returns the needles to look for in text that v read.
func (r *Redactor) needlesFor(v view) []string {
	if v == viewRaw {
		return r.needles
	}
	return r.folded
}

// Redact returns s with every occurrence of every value replaced by
// "[REDACTED]". The whole escaped form of an occurrence is replaced (all
// of "\u00e9" for an é of the value). Occurrences that overlap — of one
// value ("aa" in "aaa") or of several (a value and its prefix, two values
// sharing a middle) — are replaced together by one marker, so no part of any
// value survives, which replacing values one after the other could not
// promise. Matching is on the original text, so a value that occurs in the
// marker itself does not mangle it. A nil Redactor returns s unchanged.
func (r *Redactor) Redact(s string) string {
	if r == nil || len(r.values) == 0 || s == "" {
		return s
	}
	type span struct{ start, end int }
	var spans []span
	for _, v := range viewsOf(s) {
		d := decode(s, v)
		for _, n := range r.needlesFor(v) {
			for start, end := range occurrences(d.text, n) {
				spans = append(spans, span{d.start(start), d.end(end - 1)})
			}
		}
	}
	if len(spans) == 0 {
		return s
	}
	slices.SortFunc(spans, func(a, b span) int { return cmp.Compare(a.start, b.start) })

	var b strings.Builder
	b.Grow(len(s))
	done := 0 // s[:done] is written
	for i := 0; i < len(spans); {
		start, end := spans[i].start, spans[i].end
		// Merge the spans that overlap this one; adjacent ones stay
		// separate, as two values written back to back are two values.
		for i++; i < len(spans) && spans[i].start < end; i++ {
			end = max(end, spans[i].end)
		}
		b.WriteString(s[done:start])
		b.WriteString(redacted)
		done = end
	}
	b.WriteString(s[done:])
	return b.String()
}

// occurrences yields the start and end of each run of overlapping
// occurrences of needle in text ("aaa" is one run of "aa"). Each step
// looks for the last occurrence that starts inside the run so far, so a
// run grows by at least half the needle every two steps and the cost stays
// linear in the text however periodic the needle is.
func occurrences(text, needle string) iter.Seq2[int, int] {
	return func(yield func(int, int) bool) {
		m := len(needle)
		for i := 0; i <= len(text)-m; {
			j := strings.Index(text[i:], needle)
			if j < 0 {
				return
			}
			start := i + j
			last := start
			for {
				// Occurrences starting in (last, last+m) overlap the run.
				k := strings.LastIndex(text[last+1:min(len(text), last+2*m-1)], needle)
				if k < 0 {
					break
				}
				last += 1 + k
			}
			if !yield(start, last+m) {
				return
			}
			i = last + m
		}
	}
}

// String returns the number of values and nothing else, so that formatting
// a Redactor can never print a value.
func (r Redactor) String() string {
	return fmt.Sprintf("secrets.Redactor{%d values}", len(r.values))
}

// GoString is String, so that %#v cannot print a value either.
func (r Redactor) GoString() string {
	return r.String()
}
