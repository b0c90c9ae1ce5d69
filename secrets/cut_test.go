package secrets

import (
	"strings"
	"testing"
)

// cutForms are the encoded values of encodedValues and a value with many
// escaped characters, URL-escaped with nothing kept (Python's quote(v,
// safe="")), where a cut inside the value lands inside an escape at most
// places.
func cutForms() []struct{ name, value, form string } {
	const slashes = "sk-aaaa/bbbb/cccc/dddd/eeee/ffff/gggg+hhhh=="
	forms := append([]struct{ name, value, form string }{}, encodedValues...)
	return append(forms, struct{ name, value, form string }{"quote, nothing safe, many slashes", slashes, strings.NewReplacer("/", "%2F", "+", "%2B", "=", "%3D").Replace(slashes)})
}

// A text cut inside a value, at any byte of any of its forms, even inside
// an escape, loses what is left of the value at the cut and nothing else;
// what it keeps is at most one byte of an escape, the pieces of a NUL
// escape that followed the value's last character (UTF-16 text) or, when
// the cut leaves the whole value in, the value, which Redact removes.
func TestRedactor_TrimCutStartRemovesWhatACutLeavesOfAValueInAnyForm(t *testing.T) {
	t.Parallel()
	const after = " then text."
	for _, tt := range cutForms() {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := NewRedactor(tt.value)
			for c := 1; c < len(tt.form); c++ {
				in := tt.form[c:] + after
				got := r.Redact(r.TrimCutStart(in))
				left, ok := strings.CutSuffix(got, after)
				if !ok || !harmlessPiece(strings.TrimSuffix(left, redacted), strings.HasSuffix) {
					t.Errorf("TrimCutStart(%q), redacted, = %q, want %q", in, got, after)
				}
			}
		})
	}
}

// A command killed while it printed a value, at any byte of any of its
// forms, loses what it printed of the value and nothing else (as above).
func TestRedactor_TrimCutEndRemovesWhatACutLeavesOfAValueInAnyForm(t *testing.T) {
	t.Parallel()
	const before = "text then "
	for _, tt := range cutForms() {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := NewRedactor(tt.value)
			for c := 1; c < len(tt.form); c++ {
				in := before + tt.form[:c]
				got := r.Redact(r.TrimCutEnd(in))
				left, ok := strings.CutPrefix(got, before)
				if !ok || !harmlessPiece(strings.TrimPrefix(left, redacted), strings.HasPrefix) {
					t.Errorf("TrimCutEnd(%q), redacted, = %q, want %q", in, got, before)
				}
			}
		})
	}
}

// harmlessPiece reports whether s, left over at a cut, reveals nothing of a
// value: it is empty, one byte of an escape, or a piece of an escape of NUL
// (a suffix of one if at is strings.HasSuffix, a prefix if HasPrefix).
func harmlessPiece(s string, at func(string, string) bool) bool {
	if len(s) <= 1 && escapeTail(s) {
		return true
	}
	for _, e := range append([]string{"\x00"}, nulEscapes...) {
		if at(e, s) {
			return true
		}
	}
	return false
}

// Text that is all inside one value (a value longer than the text, cut at
// both ends) goes whole; text that only shares a little with a value, or
// looks like the end of an escape of a character that is not the value's,
// stays.
func TestRedactor_TrimCutKeepsOrdinaryText(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("0123456789abcdef/", 40) // 680 bytes
	r := NewRedactor("sk-secret-123", "tok/xyz", long)
	// Texts end in "." so that TrimCutEnd cannot find a value's first byte
	// there: a prefix of any length goes, "t" of "tok/xyz" too.
	escaped := strings.ReplaceAll(long, "/", "%2F")
	tests := []struct {
		name, in, start, end string
	}{
		{"plain text", "plain text.", "plain text.", "plain text."},
		{"the end of a value", "t-123 then text.", " then text.", "t-123 then text."},
		{"the start of a value", "text then tok/x", "text then tok/x", "text then "},
		{"the end of a value, escaped", "%2Fxyz then text.", " then text.", "%2Fxyz then text."},
		{"the start of a value, escaped", "text then tok%2", "text then tok%2", "text then "},
		{"the end of an escape of the value's character", "2Fxyz then text.", " then text.", "2Fxyz then text."},
		{"the end of an escape of another character", "2Exyz then text.", "2Exyz then text.", "2Exyz then text."},
		{"one byte of an escape", "2 then text.", "2 then text.", "2 then text."},
		{"escape-like text", "u00e9 %41 &amp; then.", "u00e9 %41 &amp; then.", "u00e9 %41 &amp; then."},
		{"a whole value", "sk-secret-123 then.", " then.", "sk-secret-123 then."},
		{"a whole value at the end", "text sk-secret-123", "text sk-secret-123", "text "},
		{"the end of a long value", long[5:] + " then text.", " then text.", long[5:] + " then text."},
		// TrimCutEnd keeps what is not a prefix of the value.
		{"inside a long value", long[5 : len(long)-5], "", "56789abcdef/"},
		{"inside a long value, escaped", escaped[5 : len(escaped)-4], "", "56789abcdef%2F"},
		{"inside a long value, an escape unfinished", escaped[5 : len(escaped)-2], "", "56789abcdef%2F"},
		{"a little of a long value", "xx 456789abcdef/0123 then text.", "xx 456789abcdef/0123 then text.", "xx 456789abcdef/0123 then text."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := r.TrimCutStart(tt.in); got != tt.start {
				t.Errorf("TrimCutStart(%.60q) = %.60q, want %.60q", tt.in, got, tt.start)
			}
			if got := r.TrimCutEnd(tt.in); got != tt.end {
				t.Errorf("TrimCutEnd(%.60q) = %.60q, want %.60q", tt.in, got, tt.end)
			}
		})
	}
	var nilRedactor *Redactor
	if nilRedactor.TrimCutStart("x") != "x" || nilRedactor.TrimCutEnd("x") != "x" {
		t.Error("a nil Redactor trimmed")
	}
}

// Text made to be slow to trim: long runs of escape starts and ends, and a
// periodic value in a periodic text (its borders form a long chain). A cost
// that grew with the square of the text would not finish in the test's
// time; each must still come out right.
func TestRedactor_TrimCutOfAdversarialTextStaysLinear(t *testing.T) {
	t.Parallel()
	const n = 1 << 18
	long := strings.Repeat("a", 16<<10)
	tests := []struct {
		name       string
		value, in  string
		start, end string
	}{
		{"a run of %", "sk-x", strings.Repeat("%", n), strings.Repeat("%", n), strings.Repeat("%", n)},
		// A command killed after "\u" or "&#" may have been writing an
		// escape of the value's first character.
		{"a run of \\u", "sk-x", strings.Repeat(`\u`, n/2), strings.Repeat(`\u`, n/2), strings.Repeat(`\u`, n/2-1)},
		{"a run of hex digits", "sk-x", strings.Repeat("0", n), strings.Repeat("0", n), strings.Repeat("0", n)},
		{"a run of &#", "sk-x", strings.Repeat("&#", n/2), strings.Repeat("&#", n/2), strings.Repeat("&#", n/2-1)},
		// The text starts and ends with the whole value.
		{"a periodic value in a periodic text", long, strings.Repeat("a", n), strings.Repeat("a", n-len(long)), strings.Repeat("a", n-len(long))},
		{"a periodic value, escaped", long, strings.Repeat("%61", n/3), strings.Repeat("%61", n/3-len(long)), strings.Repeat("%61", n/3-len(long))},
		{"the end of a periodic value", long, strings.Repeat("a", len(long)-1) + " then", " then", strings.Repeat("a", len(long)-1) + " then"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := NewRedactor(tt.value)
			if got := r.TrimCutStart(tt.in); got != tt.start {
				t.Errorf("TrimCutStart(%.20q…) = %.20q… (%d bytes), want %.20q… (%d bytes)", tt.in, got, len(got), tt.start, len(tt.start))
			}
			if got := r.TrimCutEnd(tt.in); got != tt.end {
				t.Errorf("TrimCutEnd(%.20q…) = %.20q… (%d bytes), want %.20q… (%d bytes)", tt.in, got, len(got), tt.end, len(tt.end))
			}
		})
	}
}

// Whatever escapes a value's characters are written in, a text cut inside
// it keeps nothing of it but at most one byte of an escape or a piece of an
// escape of NUL.
func FuzzRedactorTrimCut(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, value string, choices []byte, backslash bool, before, after string) {
		if !fuzzValue(value) {
			t.Skip()
		}
		r := NewRedactor(value)
		enc := fuzzEncode(value, choices, backslash)
		before, after = fuzzText(before), fuzzText(after)
		if r.Redact(before) != before || r.Redact(after) != after {
			t.Skip() // the value is in the text around it, which is redacted too
		}
		for c := 1; c < len(enc); c++ {
			in := enc[c:] + after
			out := r.Redact(r.TrimCutStart(in))
			if !keepsOnly(out, after, true) {
				t.Fatalf("TrimCutStart(%q), redacted, = %q: more than %q", in, out, after)
			}
			in = before + enc[:c]
			out = r.Redact(r.TrimCutEnd(in))
			if !keepsOnly(out, before, false) {
				t.Fatalf("TrimCutEnd(%q), redacted, = %q: more than %q", in, out, before)
			}
		}
	})
}

// keepsOnly reports whether out, what is left of a text cut inside a value
// (at its start if start is set, else at its end), is a part of the text
// next to the value at the far end from the cut, after (or before) a
// harmless piece and at most one [REDACTED].
func keepsOnly(out, text string, start bool) bool {
	for j := 0; j <= len(text); j++ {
		if start && strings.HasSuffix(out, text[j:]) {
			piece := strings.TrimSuffix(strings.TrimSuffix(out, text[j:]), redacted)
			if harmlessPiece(piece, strings.HasSuffix) {
				return true
			}
		}
		if !start && strings.HasPrefix(out, text[:len(text)-j]) {
			piece := strings.TrimPrefix(strings.TrimPrefix(out, text[:len(text)-j]), redacted)
			if harmlessPiece(piece, strings.HasPrefix) {
				return true
			}
		}
	}
	return false
}
