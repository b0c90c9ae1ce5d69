package registry

import (
	"regexp"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/secrets"
)

// shortStrings returns every string of up to three symbols of alphabet,
// then runs of "a" and "A" around the lengths 62–130.
func shortStrings(alphabet []string) []string {
	out := []string{""}
	for _, a := range alphabet {
		out = append(out, a)
		for _, b := range alphabet {
			out = append(out, a+b)
			for _, c := range alphabet {
				out = append(out, a+b+c)
			}
		}
	}
	for n := 62; n <= 130; n++ {
		out = append(out, strings.Repeat("a", n), strings.Repeat("A", n), "_"+strings.Repeat("9", n-1))
	}
	return out
}

var nameAlphabet = []string{"a", "z", "A", "Z", "0", "9", "_", "-", " ", ".", "/", "@", "[", "`", "{", "\n", "\x00", "\xc3\xa9"}

// TestValidHeaderName_MatchesThePattern holds the written-out check to
// ^[A-Za-z0-9-]{1,64}$, the rule the catalog documents.
func TestValidHeaderName_MatchesThePattern(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)
	for _, s := range shortStrings(nameAlphabet) {
		if got, want := validHeaderName(s), re.MatchString(s); got != want {
			t.Errorf("validHeaderName(%q) = %v, the pattern says %v", s, got, want)
		}
	}
}

// TestAuthEnvNames_FollowTheRuleTheMessagesState: the catalog checks
// auth_env names with secrets.ValidName, and its message states
// credentialNameRule; the two must agree.
func TestAuthEnvNames_FollowTheRuleTheMessagesState(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(credentialNameRule)
	for _, s := range shortStrings(nameAlphabet) {
		if got, want := secrets.ValidName(s), re.MatchString(s); got != want {
			t.Errorf("secrets.ValidName(%q) = %v, %s says %v", s, got, credentialNameRule, want)
		}
	}
}
