package secrets

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestRedactor_Redact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		values []string
		in     string
		want   string
	}{
		{"every occurrence", []string{"sk-123456"}, "key=sk-123456 again sk-123456.", "key=[REDACTED] again [REDACTED]."},
		{"several values", []string{"alpha1", "beta22"}, "a=alpha1 b=beta22", "a=[REDACTED] b=[REDACTED]"},
		{"value and its prefix", []string{"abc", "abc123"}, "abc123 abc", "[REDACTED] [REDACTED]"},
		{"values sharing a middle", []string{"abcdef", "defghi"}, "x abcdefghi x", "x [REDACTED] x"},
		{"overlapping occurrences of one value", []string{"aa"}, "aaa", "[REDACTED]"},
		{"adjacent occurrences", []string{"ab"}, "abab", "[REDACTED][REDACTED]"},
		{"value inside the marker", []string{"secret", "ACT"}, "secret ACT", "[REDACTED] [REDACTED]"},
		{"one character", []string{"x"}, "axbx", "a[REDACTED]b[REDACTED]"},
		{"multi-line", []string{"s3cr3t"}, "line1 s3cr3t\nline2 s3cr3t", "line1 [REDACTED]\nline2 [REDACTED]"},
		{"empty values ignored", []string{"", "tok"}, "a tok", "a [REDACTED]"},
		{"duplicates", []string{"tok", "tok"}, "tok", "[REDACTED]"},
		{"no match", []string{"tok"}, "nothing here", "nothing here"},
		{"no values", nil, "tok", "tok"},
		{"empty text", []string{"tok"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := NewRedactor(tt.values...).Redact(tt.in); got != tt.want {
				t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRedactor_NilRedactsNothing(t *testing.T) {
	t.Parallel()
	var r *Redactor
	if got := r.Redact("tok"); got != "tok" {
		t.Errorf("Redact = %q, want the text unchanged", got)
	}
}

func TestRedactor_FormatsWithoutValues(t *testing.T) {
	t.Parallel()
	r := NewRedactor(testValue)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, arg := range []any{r, *r} {
			if out := fmt.Sprintf(verb, arg); strings.Contains(out, testValue) {
				t.Errorf("Sprintf(%s) = %q contains the value", verb, out)
			}
		}
	}
}

// A driver or tool prints a value the way its language quotes it; every such
// form must be removed, not only the value as it was stored.
func TestRedactor_RedactsEscapedForms(t *testing.T) {
	t.Parallel()
	const value = `CANARY"x\_7 a/b?c=d&e'f<g>`
	tests := []struct {
		name string
		form string
	}{
		{"as is", value},
		{"JSON", `CANARY\"x\\_7 a/b?c=d\u0026e'f\u003cg\u003e`},
		{"JSON without HTML escaping", `CANARY\"x\\_7 a/b?c=d&e'f<g>`},
		{"URL query", "CANARY%22x%5C_7+a%2Fb%3Fc%3Dd%26e%27f%3Cg%3E"},
		{"URL query, lower-case hex", "CANARY%22x%5c_7+a%2fb%3fc%3dd%26e%27f%3cg%3e"},
		{"URL path", "CANARY%22x%5C_7%20a%2Fb%3Fc=d&e%27f%3Cg%3E"},
		{"shell single quotes", `CANARY"x\_7 a/b?c=d&e'\''f<g>`},
		{"shell single quotes, Python style", `CANARY"x\_7 a/b?c=d&e'"'"'f<g>`},
		{"shell backslashes, every punctuation", `CANARY\"x\\\_7\ a\/b\?c\=d\&e\'f\<g\>`},
		{"shell backslashes, printf %q", `CANARY\"x\\_7\ a/b\?c=d\&e\'f\<g\>`},
	}
	r := NewRedactor(value)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := `{"key": "` + tt.form + `"} rest`
			want := `{"key": "[REDACTED]"} rest`
			if got := r.Redact(in); got != want {
				t.Errorf("Redact(%q) = %q, want %q", in, got, want)
			}
		})
	}
}

// A multi-line value (a PEM key, a credentials file) may be printed one line
// at a time; each line long enough to carry part of the secret is removed,
// short ones are not (they are common words of any text).
func TestRedactor_RedactsEachLineOfAMultiLineValue(t *testing.T) {
	t.Parallel()
	const value = "-----BEGIN KEY-----\r\nMIIEvQIBADANBgkq\n  hkiG9w0BAQEFAASC  \nab\n}\n-----END KEY-----\n"
	r := NewRedactor(value)
	tests := []struct {
		name, in, want string
	}{
		{"one line", "line: MIIEvQIBADANBgkq.", "line: [REDACTED]."},
		{"a line without its indentation", "got hkiG9w0BAQEFAASC", "got [REDACTED]"},
		{"a line JSON-escaped", `"MIIEvQIBADANBgkq\nhkiG9w0BAQEFAASC"`, `"[REDACTED]\n[REDACTED]"`},
		{"the whole value JSON-escaped", `{"pem":"` + jsonEscape(value, true) + `"}`, `{"pem":"[REDACTED]"}`},
		{"short lines are left", "ab } ok", "ab } ok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := r.Redact(tt.in); got != tt.want {
				t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
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

// Values for the tests of encodings: slashes and + = (base64 keys), a
// character outside ASCII and HTML's specials, and a character outside the
// BMP with quotes, a backslash and a space.
const (
	valueURL   = `sk-CANARY/x8Kq+y=z`
	valueHTML  = `sk-CANARYé9x<&>q`
	valueShell = `sk-CANARY😀"x\_7 a'b`
)

// encodedValues are values printed the way programs print them: in the
// escaping of their language or format, or of several at once.
var encodedValues = []struct {
	name, value, form string
}{
	// The forms that leaked before the redactor decoded text.
	{"Python urllib.parse.quote", valueURL, `sk-CANARY/x8Kq%2By%3Dz`},
	{"Python json.dumps", valueHTML, `sk-CANARY\u00e99x<&>q`},
	{"Python html.escape", valueHTML, `sk-CANARYé9x&lt;&amp;&gt;q`},

	{"quote, nothing safe", valueURL, `sk-CANARY%2Fx8Kq%2By%3Dz`},
	{"quote, lower-case hex", valueURL, `sk-CANARY%2fx8Kq%2by%3dz`},
	{"PHP json_encode", valueURL, `sk-CANARY\/x8Kq+y=z`},
	{"JSON of html.escape", valueHTML, `sk-CANARY\u00e99x&lt;&amp;&gt;q`},
	{"JSON, upper-case hex", valueHTML, `sk-CANARY\u00E99x\u003C\u0026\u003Eq`},
	{"XML numeric references", valueHTML, `sk-CANARY&#233;9x&#60;&#38;&#62;q`},
	{"HTML hex references", valueHTML, `sk-CANARY&#xe9;9x&#x3C;&#X26;&#x3e;q`},
	{"Python bytes repr", valueHTML, `sk-CANARY\xc3\xa99x<&>q`},
	{"bash printf %q", valueHTML, `sk-CANARY\303\2519x<&>q`},
	{"bash printf %q, ASCII", valueHTML, `sk-CANARYé9x\<\&\>q`},
	{"URL-escaped UTF-8", valueHTML, `sk-CANARY%C3%A99x%3C%26%3Eq`},
	{"Python \\U", valueHTML, `sk-CANARY\U000000e99x<&>q`},
	{"named references in upper case", valueHTML, `sk-CANARYé9x&LT;&AMP;&GT;q`},
	{"JSON surrogate pair", valueShell, `sk-CANARY\ud83d\ude00\"x\\_7 a'b`},
	{"JSON surrogate pair, upper case", valueShell, `sk-CANARY\uD83D\uDE00\"x\\_7 a'b`},
	{"Python \\U outside the BMP", valueShell, `sk-CANARY\U0001f600"x\\_7 a\'b`},
	{"Rust and JavaScript \\u{}", valueShell, `sk-CANARY\u{1F600}\"x\\_7 a'b`},
	{"decimal reference outside the BMP", valueShell, `sk-CANARY&#128512;&quot;x\_7 a&apos;b`},
	{"Python html.escape with a backslash", valueShell, `sk-CANARY😀&quot;x\_7 a&#x27;b`},
	{"Python urllib.parse.quote outside the BMP", valueShell, `sk-CANARY%F0%9F%98%80%22x%5C_7%20a%27b`},
	{"Python bytes repr outside the BMP", valueShell, `sk-CANARY\xf0\x9f\x98\x80"x\\_7 a\'b`},
	{"shlex.quote", valueShell, `sk-CANARY😀"x\_7 a'"'"'b`},
	{"shell single quotes", valueShell, `sk-CANARY😀"x\_7 a'\''b`},
	{"bash printf %q with a space", valueShell, `sk-CANARY😀\"x\\_7\ a\'b`},
	{"UTF-16 text", valueURL, "s\x00k\x00-\x00C\x00A\x00N\x00A\x00R\x00Y\x00/\x00x\x008\x00K\x00q\x00+\x00y\x00=\x00z\x00"},
	{"Python repr of UTF-16 bytes", valueURL, `s\x00k\x00-\x00C\x00A\x00N\x00A\x00R\x00Y\x00/\x00x\x008\x00K\x00q\x00+\x00y\x00=\x00z\x00`},
	{"JSON of UTF-16 text", valueURL, `s\u0000k\u0000-\u0000CANARY/x8Kq+y=z`},
	{"a space for the +", valueURL, `sk-CANARY/x8Kq y=z`},
	{"a different escape for each character", valueHTML, `s%6B\x2D\u0043&#65;&#x4e;\101R\U00000059%c3%a9\u{39}x&lt;\&\u003eq`},
	// A value holding what looks like an escape of one family, printed in
	// another family's escaping: only a view that decodes the second and
	// not the first finds it.
	{"a SAS token with percent-escapes, HTML-escaped", valueSAS, `sv=2022-11-02&amp;ss=bfqt&amp;srt=sco&amp;sp=rwdlacupiytfx&amp;se=2026-12-31T00:00:00Z&amp;sig=AbCdEf%2BgHiJk%2FlMnOp%3D`},
	{"percent-escapes in a JSON string with a quote", `p%40ssw0rd-with"quote`, `p%40ssw0rd-with\"quote`},
	{"percent-escapes in shell single quotes with a quote", `ab%2Fcd'ef-CANARY`, `ab%2Fcd'"'"'ef-CANARY`},
	{"an entity in a JSON string with a quote", `a&amp;b"c-CANARY`, `a&amp;b\"c-CANARY`},
	{"a backslash, HTML-escaped", `C:\path<CANARY>`, `C:\path&lt;CANARY&gt;`},
}

// valueSAS is shaped like an Azure SAS token: a query string whose
// signature holds percent-escapes.
const valueSAS = "sv=2022-11-02&ss=bfqt&srt=sco&sp=rwdlacupiytfx&se=2026-12-31T00:00:00Z&sig=AbCdEf%2BgHiJk%2FlMnOp%3D"

// The redactor must find a value in any escaping, whatever it does with
// each character, not only in the forms Go's encoders write.
func TestRedactor_FindsAValueInAnyMixOfEncodings(t *testing.T) {
	t.Parallel()
	for _, tt := range encodedValues {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := `err: {"key": "` + tt.form + `"} rest`
			want := `err: {"key": "[REDACTED]"} rest`
			if got := NewRedactor(tt.value).Redact(in); got != want {
				t.Errorf("Redact(%q) = %q, want %q", in, got, want)
			}
		})
	}
}

// Every character of a value in one encoding, for each encoding the
// redactor decodes.
func TestRedactor_FindsAValueWithEveryCharacterEscaped(t *testing.T) {
	t.Parallel()
	perByte := map[string]string{"%HH": "%%%02X", "%hh": "%%%02x", `\xHH`: `\x%02x`, `\ooo`: `\%03o`}
	perRune := map[string]func(r rune) string{
		`\uHHHH`: func(r rune) string {
			if r > 0xFFFF {
				return fmt.Sprintf(`\u%04X\u%04X`, 0xD800+(r-0x10000)>>10, 0xDC00+(r-0x10000)&0x3FF)
			}
			return fmt.Sprintf(`\u%04x`, r)
		},
		`\UHHHHHHHH`: func(r rune) string { return fmt.Sprintf(`\U%08x`, r) },
		`\u{H}`:      func(r rune) string { return fmt.Sprintf(`\u{%x}`, r) },
		`&#NN;`:      func(r rune) string { return fmt.Sprintf(`&#%d;`, r) },
		`&#xHH;`:     func(r rune) string { return fmt.Sprintf(`&#x%X;`, r) },
		`&#00NN;`:    func(r rune) string { return fmt.Sprintf(`&#%07d;`, r) },
	}
	for _, value := range []string{valueURL, valueHTML, valueShell} {
		r := NewRedactor(value)
		check := func(name, form string) {
			t.Helper()
			in := "<" + form + ">"
			if got := r.Redact(in); got != "<[REDACTED]>" {
				t.Errorf("%s: Redact(%q) = %q, want <[REDACTED]>", name, in, got)
			}
		}
		for name, format := range perByte {
			var b strings.Builder
			for i := 0; i < len(value); i++ {
				fmt.Fprintf(&b, format, value[i])
			}
			check(name, b.String())
		}
		for name, format := range perRune {
			var b strings.Builder
			for _, c := range value {
				b.WriteString(format(c))
			}
			check(name, b.String())
		}
	}
}

// Decoding is for finding values only: the text around a value, escapes
// and all, comes out as it went in, and so does text that merely decodes to
// something like a value.
func TestRedactor_LeavesTheTextAroundAValueAsItIs(t *testing.T) {
	t.Parallel()
	r := NewRedactor(valueURL, valueHTML, "ab%41cd")
	tests := []struct {
		name, in, want string
	}{
		{"escapes around", `path=C:\tmp\x%41 &amp; \u00e9 key=sk-CANARY%2Fx8Kq%2By%3Dz&amp;next=%2F`, `path=C:\tmp\x%41 &amp; \u00e9 key=[REDACTED]&amp;next=%2F`},
		{"an escape right before", `%2Fsk-CANARY%2Fx8Kq%2By%3Dz%2F`, `%2F[REDACTED]%2F`},
		{"an escaped character right before", `\u00e9sk-CANARY\u00e99x<&>q\u00e9`, `\u00e9[REDACTED]\u00e9`},
		{"unfinished escapes", `%4 %zz \u00 \U0001 &#; &#x; &am; \ud83d x`, `%4 %zz \u00 \U0001 &#; &#x; &am; \ud83d x`},
		{"a value that looks escaped, as it is", "got ab%41cd.", "got [REDACTED]."},
		{"a value that looks escaped, escaped", "got ab%2541cd.", "got [REDACTED]."},
		{"its decoded form is not the value", "got abAcd.", "got abAcd."},
		{"almost the value", `sk-CANARY%2Fx8Kq%2By%3D`, `sk-CANARY%2Fx8Kq%2By%3D`},
		{"two values back to back", `sk-CANARY/x8Kq+y=zsk-CANARY\u00e99x<&>q`, `[REDACTED][REDACTED]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := r.Redact(tt.in); got != tt.want {
				t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// Text made to be slow to decode or to search: long runs of escape starts,
// of unfinished escapes and of a periodic value. A redactor whose cost grew
// with the square of the text would not finish these in the test's time;
// each must still come out right.
func TestRedactor_AdversarialTextStaysLinear(t *testing.T) {
	t.Parallel()
	const n = 1 << 18
	long := strings.Repeat("a", 16<<10)
	tests := []struct {
		name   string
		values []string
		in     string
		want   string
	}{
		{"a run of %", []string{"sk-x"}, strings.Repeat("%", n) + "sk-x", strings.Repeat("%", n) + redacted},
		{"a run of \\u", []string{"sk-x"}, strings.Repeat(`\u`, n) + "sk-x", strings.Repeat(`\u`, n) + redacted},
		{"a run of unfinished surrogates", []string{"sk-x"}, strings.Repeat(`\ud83d`, n/4) + `\u0073k-x`, strings.Repeat(`\ud83d`, n/4) + redacted},
		{"a run of &#", []string{"sk-x"}, strings.Repeat("&#", n) + "&#115;k-x", strings.Repeat("&#", n) + redacted},
		{"a run of digits in a reference", []string{"sk-x"}, "&#" + strings.Repeat("0", n) + "115;k-x", "&#" + strings.Repeat("0", n) + "115;k-x"},
		{"a run of backslashes", []string{`sk\x`}, strings.Repeat(`\\`, n) + `sk\\x`, strings.Repeat(`\\`, n) + redacted},
		{"a run of quotes", []string{"sk'x"}, strings.Repeat(`'\''`, n/4) + `sk'\''x`, strings.Repeat(`'\''`, n/4) + redacted},
		{"a periodic value in a periodic text", []string{long}, strings.Repeat("a", n), redacted},
		{"a periodic value, escaped", []string{long}, strings.Repeat("%61", n/3), redacted},
		{"a nearly periodic value", []string{long + "b"}, strings.Repeat("a", n) + "b", strings.Repeat("a", n-len(long)) + redacted},
		{"many values", benchValues(200), strings.Repeat(benchMessage(nil, false), 32), strings.Repeat(benchMessage(nil, false), 32)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := NewRedactor(tt.values...).Redact(tt.in); got != tt.want {
				t.Errorf("Redact(%.40q…) = %.40q… (%d bytes), want %.40q… (%d bytes)", tt.in, got, len(got), tt.want, len(tt.want))
			}
		})
	}
}
