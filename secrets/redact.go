package secrets

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// redacted is what Redact puts in place of a secret value.
const redacted = "[REDACTED]"

// Redactor removes known secret values from text before it is logged or
// returned. It is safe for concurrent use, and it prints as the number of
// values it holds, never the values.
type Redactor struct {
	// values are distinct and non-empty, longest first.
	values []string
}

// NewRedactor returns a redactor for the given secret values. Empty values
// are ignored; every other value is redacted whatever its length, so a
// one-character value redacts that character everywhere. It never fails.
func NewRedactor(values ...string) *Redactor {
	var vs []string
	for _, v := range values {
		if v != "" {
			vs = append(vs, v)
		}
	}
	slices.SortFunc(vs, func(a, b string) int {
		return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b))
	})
	return &Redactor{values: slices.Compact(vs)}
}

// Redact returns s with every occurrence of every value replaced by
// "[REDACTED]". Occurrences that overlap — of one value ("aa" in "aaa") or of
// several (a value and its prefix, two values sharing a middle) — are
// replaced together by one marker, so no part of any value survives, which
// replacing values one after the other could not promise. Matching is on the
// original text, so a value that occurs in the marker itself does not mangle
// it. A nil Redactor returns s unchanged.
func (r *Redactor) Redact(s string) string {
	if r == nil || len(r.values) == 0 {
		return s
	}
	type span struct{ start, end int }
	var spans []span
	for _, v := range r.values {
		for i := 0; i < len(s); {
			j := strings.Index(s[i:], v)
			if j < 0 {
				break
			}
			spans = append(spans, span{i + j, i + j + len(v)})
			i += j + 1 // the next occurrence may overlap this one
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

// String returns the number of values and nothing else, so that formatting
// a Redactor can never print a value.
func (r Redactor) String() string {
	return fmt.Sprintf("secrets.Redactor{%d values}", len(r.values))
}

// GoString is String, so that %#v cannot print a value either.
func (r Redactor) GoString() string {
	return r.String()
}
