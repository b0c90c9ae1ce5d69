package modelgate

import (
	"regexp"
	"strings"
	"testing"
)

// TestValidOrg_MatchesTheGrammar holds the written-out check to OrgGrammar,
// the pattern the messages and the docs state: every string of up to three
// bytes over an alphabet of the grammar's classes, their neighbours and
// bytes outside ASCII, then lengths around the limit.
func TestValidOrg_MatchesTheGrammar(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(OrgGrammar)
	alphabet := []string{"a", "z", "0", "9", ".", "_", "-", "A", "Z", "/", ":", " ", "\n", "\x00", "\x7f", "\xc3\xa9", "`", "{", "@", "["}
	check := func(s string) {
		if got, want := validOrg(s), re.MatchString(s); got != want {
			t.Errorf("validOrg(%q) = %v, the grammar says %v", s, got, want)
		}
	}
	check("")
	for _, a := range alphabet {
		check(a)
		for _, b := range alphabet {
			check(a + b)
			for _, c := range alphabet {
				check(a + b + c)
			}
		}
	}
	for n := 60; n <= 66; n++ {
		for _, tail := range []string{"", "-", "Z"} {
			check(strings.Repeat("a", n) + tail)
			check("0" + strings.Repeat("-", n) + tail)
		}
	}
}

// FuzzValidOrg compares the written-out check with the grammar on any input.
func FuzzValidOrg(f *testing.F) {
	for _, s := range []string{"acme", "team.eu_1", "-a", "A", strings.Repeat("a", 63), strings.Repeat("a", 64), "a\n"} {
		f.Add(s)
	}
	re := regexp.MustCompile(OrgGrammar)
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := validOrg(s), re.MatchString(s); got != want {
			t.Errorf("validOrg(%q) = %v, the grammar says %v", s, got, want)
		}
	})
}
