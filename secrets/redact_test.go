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
