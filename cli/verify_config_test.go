package cli

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// --verify-base-url takes PROVIDER=URL pairs from the environment's list
// and from repeated flags; a flag wins for its provider.
func TestConfig_VerifyBaseURLs(t *testing.T) {
	t.Parallel()
	var b baseURLs
	if err := b.Set("groq=https://a.example, anthropic-api=http://127.0.0.1:9"); err != nil {
		t.Fatal(err)
	}
	if err := b.Set("groq=https://b.example"); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"groq": "https://b.example", "anthropic-api": "http://127.0.0.1:9"}
	if diff := cmp.Diff(want, b.m); diff != "" {
		t.Errorf("pairs (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"groq", "=https://x", "groq="} {
		if err := (&baseURLs{}).Set(bad); err == nil || !strings.Contains(err.Error(), "PROVIDER=URL") {
			t.Errorf("Set(%q) = %v, want a PROVIDER=URL error", bad, err)
		}
	}
}

// An override the checker refuses (plain http to a remote host, an unknown
// provider) stops the server at start, naming the flag.
func TestConfig_UnsafeVerifyBaseURLRefusesToStart(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"groq=http://api.example.com", "nosuch=https://x.example", "x"} {
		code, _, errOut := runIn(t, t.TempDir(), "v", "secret", "set", "GROQ_API_KEY", "--verify-base-url", v)
		if code == 0 || !strings.Contains(errOut, "verify-base-url") {
			t.Errorf("--verify-base-url %s: exit %d, %q; want a refusal naming the flag", v, code, errOut)
		}
	}
	code, _, errOut := runIn(t, t.TempDir(), "v", "secret", "set", "GROQ_API_KEY", "--verify-credentials", "maybe")
	if code == 0 || !strings.Contains(errOut, "verify-credentials") {
		t.Errorf("--verify-credentials maybe: exit %d, %q; want a refusal", code, errOut)
	}
}
