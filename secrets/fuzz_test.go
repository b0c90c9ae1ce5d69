package secrets

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzEncode writes value with each character in an escape chosen by the
// next byte of choices. With backslash set it may use escapes that start
// with a backslash and never writes one as it is (decode would read it as
// the start of an escape); without, it writes backslashes as they are and
// uses no such escape, as a shell's single quotes or HTML do. It never
// writes % & ' as they are, as they too start escapes.
func fuzzEncode(value string, choices []byte, backslash bool) string {
	if len(choices) == 0 {
		choices = []byte{0}
	}
	var b strings.Builder
	for i, r := range []rune(value) {
		c := choices[i%len(choices)] % 13
		if !backslash && (c >= 3 && c <= 7 || c == 11) {
			c = 1
		}
		switch {
		case c == 0 && !strings.ContainsRune(`%&'\`, r):
			b.WriteRune(r)
		case c == 0 && r == '\\' && !backslash:
			b.WriteRune(r)
		case c == 2 || c == 0:
			for _, x := range []byte(string(r)) {
				fmt.Fprintf(&b, "%%%02x", x)
			}
		case c == 3:
			for _, x := range []byte(string(r)) {
				fmt.Fprintf(&b, `\x%02X`, x)
			}
		case c == 4:
			for _, x := range []byte(string(r)) {
				fmt.Fprintf(&b, `\%03o`, x)
			}
		case c == 5 && r > 0xFFFF:
			fmt.Fprintf(&b, `\u%04x\u%04X`, 0xD800+(r-0x10000)>>10, 0xDC00+(r-0x10000)&0x3FF)
		case c == 5:
			fmt.Fprintf(&b, `\u%04X`, r)
		case c == 6:
			fmt.Fprintf(&b, `\U%08x`, r)
		case c == 7:
			fmt.Fprintf(&b, `\u{%x}`, r)
		case c == 8:
			fmt.Fprintf(&b, `&#%d;`, r)
		case c == 9:
			fmt.Fprintf(&b, `&#x%X;`, r)
		case c == 10 && strings.ContainsRune(`<>&"'`, r):
			b.WriteString(map[rune]string{'<': "&lt;", '>': "&gt;", '&': "&amp;", '"': "&quot;", '\'': "&apos;"}[r])
		case c == 11 && r < utf8.RuneSelf && isPunctOrSpace(byte(r)):
			b.WriteString(`\` + string(r))
		case c == 12 && r == '\'':
			b.WriteString(`'"'"'`)
		default:
			for _, x := range []byte(string(r)) {
				fmt.Fprintf(&b, "%%%02X", x)
			}
		}
	}
	return b.String()
}

// fuzzText returns s as plain text of lower-case letters, spaces and dots,
// which starts no escape and so cannot change how the text next to it is
// read.
func fuzzText(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c != ' ' && c != '.' && (c < 'a' || c > 'z') {
			b[i] = 'a' + c%26
		}
	}
	return string(b)
}

// fuzzValue reports whether value is one the fuzz tests can use: valid
// UTF-8, short, without control bytes (the tests use \x01 as a separator).
func fuzzValue(value string) bool {
	if value == "" || len(value) > 64 || !utf8.ValidString(value) {
		return false
	}
	for _, r := range value {
		if r < ' ' {
			return false
		}
	}
	return true
}

func fuzzSeeds(f *testing.F) {
	for _, tt := range encodedValues {
		f.Add(tt.value, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, true, "err ", " rest")
	}
	f.Add(`CANARY"x\_7 a/b?c=d&e'f<g>`, []byte{12, 0, 1, 10}, false, "", "")
	f.Add("aaaa", []byte{0, 0, 3}, true, "aaa", "aaa")
	f.Add("é😀'\\", []byte{5, 12, 11}, true, "x", "y")
}

// Whatever escapes a value's characters are written in, in one view of the
// text, no view of the redacted text holds the value.
func FuzzRedactor(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, value string, choices []byte, backslash bool, before, after string) {
		if !fuzzValue(value) {
			t.Skip()
		}
		r := NewRedactor(value)
		in := fuzzText(before) + fuzzEncode(value, choices, backslash) + fuzzText(after)
		out := r.Redact(in)
		seen := strings.ReplaceAll(out, redacted, "\x01")
		for _, v := range viewsOf("%\\&'") { // every view
			for _, n := range r.needlesFor(v) {
				if strings.Contains(decode(seen, v).text, n) {
					t.Fatalf("Redact(%q) = %q still holds %q", in, out, value)
				}
			}
		}
	})
}
