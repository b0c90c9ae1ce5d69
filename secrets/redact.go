package secrets

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
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
// returned. Besides each value as it is, it removes the forms in which a
// driver or a tool is likely to print it: JSON-escaped (with and without
// HTML escaping, as Go's encoding/json and others write it), URL-escaped
// (query and path escaping, upper- and lower-case hex), shell-quoted
// (inside single quotes, where a quote is written by closing the quotes,
// writing it as \' or "'" and opening them again) and
// backslash-escaped (a backslash before any punctuation, as printf %q and
// shell escapers write it); and each line of a multi-line value of at least
// MinLineLength bytes, in the same forms. It is safe for concurrent use,
// and it prints as the number of values it holds, never the values.
type Redactor struct {
	// values are the secret values as given, distinct and non-empty; they
	// are what String counts.
	values []string
	// forms are the strings removed: values and their escaped forms,
	// distinct and non-empty, longest first.
	forms []string
	// loose match a value with an optional backslash before each of its
	// punctuation characters (the backslash-escaped forms, which differ
	// between escapers in which characters they escape).
	loose []*regexp.Regexp
}

// NewRedactor returns a redactor for the given secret values. Empty values
// are ignored; every other value is redacted whatever its length, so a
// one-character value redacts that character everywhere. It never fails.
func NewRedactor(values ...string) *Redactor {
	var vs, forms []string
	var loose []*regexp.Regexp
	add := func(v string) {
		forms = append(forms, escapedForms(v)...)
		if re := backslashPattern(v); re != nil {
			loose = append(loose, re)
		}
	}
	for _, v := range values {
		if v == "" {
			continue
		}
		vs = append(vs, v)
		add(v)
		if !strings.ContainsAny(v, "\r\n") {
			continue
		}
		for _, line := range strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == '\r' }) {
			if line = strings.TrimSpace(line); len(line) >= MinLineLength {
				add(line)
			}
		}
	}
	slices.Sort(vs)
	forms = slices.DeleteFunc(forms, func(f string) bool { return f == "" })
	slices.SortFunc(forms, func(a, b string) int {
		return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(a, b))
	})
	return &Redactor{values: slices.Compact(vs), forms: slices.Compact(forms), loose: loose}
}

// escapedForms returns v and the forms a program is likely to print it in.
// Forms equal to v or to each other are removed later.
func escapedForms(v string) []string {
	forms := []string{
		v,
		jsonEscape(v, false),
		jsonEscape(v, true),
		url.QueryEscape(v),
		url.PathEscape(v),
		// Inside single quotes a shell cannot escape a quote: it closes
		// the quotes, writes one (\' or "'") and opens them again.
		strings.ReplaceAll(v, "'", `'\''`),
		strings.ReplaceAll(v, "'", `'"'"'`),
	}
	for _, f := range forms[3:5] {
		forms = append(forms, lowerHex(f))
	}
	return forms
}

// jsonEscape returns v as encoding/json writes it inside a string, without
// the quotes.
func jsonEscape(v string, html bool) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(html)
	_ = enc.Encode(v) // a string always encodes
	out := strings.TrimSuffix(b.String(), "\n")
	return out[1 : len(out)-1]
}

// lowerHex returns a URL-escaped string with its %XX escapes in lower case,
// as some encoders write them.
func lowerHex(s string) string {
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] != '%' {
			continue
		}
		for _, j := range []int{i + 1, i + 2} {
			if 'A' <= b[j] && b[j] <= 'F' {
				b[j] += 'a' - 'A'
			}
		}
	}
	return string(b)
}

// backslashPattern returns a pattern that matches v with an optional
// backslash before each ASCII punctuation or space character, or nil if v
// has none (the exact forms then cover it).
func backslashPattern(v string) *regexp.Regexp {
	var b strings.Builder
	found := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < utf8.RuneSelf && (unicode.IsPunct(rune(c)) || unicode.IsSymbol(rune(c)) || c == ' ' || c == '\t') {
			b.WriteString(`\\?`)
			found = true
		}
		b.WriteString(regexp.QuoteMeta(string(c)))
	}
	if !found {
		return nil
	}
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil // too large to compile; the exact forms still apply
	}
	return re
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
	for _, v := range r.forms {
		for i := 0; i < len(s); {
			j := strings.Index(s[i:], v)
			if j < 0 {
				break
			}
			spans = append(spans, span{i + j, i + j + len(v)})
			i += j + 1 // the next occurrence may overlap this one
		}
	}
	for _, re := range r.loose {
		for i := 0; i < len(s); {
			loc := re.FindStringIndex(s[i:])
			if loc == nil {
				break
			}
			spans = append(spans, span{i + loc[0], i + loc[1]})
			i += loc[0] + 1
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
