package secrets

import (
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
