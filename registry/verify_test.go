package registry_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelgate/modelgate/registry"
)

// withCheck returns validCatalog with a check block on provider acme.
func withCheck(block string) string {
	return strings.Replace(validCatalog, "    pattern: '(?i)^acme[:/]'\n",
		"    pattern: '(?i)^acme[:/]'\n    check:\n"+block, 1)
}

const goodCheck = `      base_url: https://api.acme.test
      path: /v1/models
      key_header: Authorization
      key_prefix: "Bearer "
      headers: {acme-version: "1"}
      names: [ACME_KEY]
`

func TestLoad_CheckBlockLoadsWithDefaults(t *testing.T) {
	t.Parallel()
	c, err := registry.Load([]byte(withCheck(goodCheck)), "catalog.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := c.Provider("acme")
	want := &registry.Check{Method: "GET", BaseURL: "https://api.acme.test", Path: "/v1/models", KeyHeader: "Authorization",
		KeyPrefix: "Bearer ", Headers: map[string]string{"acme-version": "1"}, Names: []string{"ACME_KEY"},
		Valid: []int{200}, Rejected: []int{401, 403}}
	if diff := cmp.Diff(want, p.Check); diff != "" {
		t.Errorf("Check (-want +got):\n%s", diff)
	}
	if !p.Check.Covers("ACME_KEY") || p.Check.Covers("ACME_TOKEN") {
		t.Errorf("Covers: want exactly the listed names")
	}
	if got := p.Check.URL("http://127.0.0.1:9/"); got != "http://127.0.0.1:9/v1/models" {
		t.Errorf("URL(override) = %q", got)
	}
}

// catalog check must refuse every check that could send a key somewhere it
// should not go, or turn a "not now" into a refusal.
func TestLoad_CheckBlockRefusals(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, old, new, want string
	}{
		{"plain http to a remote host", "https://api.acme.test", "http://api.acme.test", "plain http only to a loopback"},
		{"another scheme", "https://api.acme.test", "ftp://api.acme.test", `scheme "ftp"`},
		{"user information in the URL", "https://api.acme.test", "https://u:p@api.acme.test", "without user"},
		{"query in the base URL", "https://api.acme.test", "https://api.acme.test?x=1", "without user, query"},
		{"path without slash", "path: /v1/models", "path: v1/models", "want a path starting with /"},
		{"a method with a body", "      base_url:", "      method: POST\n      base_url:", "want GET or HEAD"},
		{"no key header", "key_header: Authorization", "key_header: ''", "key_header"},
		{"key in the Host header", "key_header: Authorization", "key_header: Host", "key_header"},
		{"fixed header overrides the key header", "{acme-version: \"1\"}", "{authorization: \"x\"}", `header "authorization"`},
		{"header value with a newline", `{acme-version: "1"}`, `{acme-version: "1\r\nX: y"}`, "control character"},
		{"no names", "names: [ACME_KEY]", "names: []", "list the auth_env names"},
		{"a name the provider does not accept", "names: [ACME_KEY]", "names: [OTHER_KEY]", `"OTHER_KEY" is not in the provider's auth_env`},
		{"429 as rejected", "names: [ACME_KEY]\n", "names: [ACME_KEY]\n      rejected: [401, 429]\n", "rejected status 429"},
		{"5xx as rejected", "names: [ACME_KEY]\n", "names: [ACME_KEY]\n      rejected: [500]\n", "rejected status 500"},
		{"3xx as valid", "names: [ACME_KEY]\n", "names: [ACME_KEY]\n      valid: [302]\n", "valid status 302"},
		{"unknown field", "names: [ACME_KEY]\n", "names: [ACME_KEY]\n      body: x\n", `unknown field "body"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			src := strings.Replace(withCheck(goodCheck), tt.old, tt.new, 1)
			if src == withCheck(goodCheck) {
				t.Fatalf("case does not change the catalog: %q not found", tt.old)
			}
			_, err := registry.Load([]byte(src), "catalog.yaml")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	t.Run("platform provider", func(t *testing.T) {
		t.Parallel()
		src := strings.Replace(validCatalog, "    pattern: '^platform/'\n", "    pattern: '^platform/'\n    check:\n"+
			strings.ReplaceAll(goodCheck, "ACME_KEY", "PLATFORM_TOKEN"), 1)
		if _, err := registry.Load([]byte(src), "c"); err == nil || !strings.Contains(err.Error(), "platform provider takes no check") {
			t.Errorf("Load = %v, want the platform provider refused", err)
		}
	})
	t.Run("plain http to loopback is allowed", func(t *testing.T) {
		t.Parallel()
		src := strings.Replace(withCheck(goodCheck), "https://api.acme.test", "http://127.0.0.1:8080", 1)
		if _, err := registry.Load([]byte(src), "c"); err != nil {
			t.Errorf("Load = %v, want a loopback http base URL allowed", err)
		}
	})
}

// Every check of the default catalog goes to an https origin and covers
// only names the provider accepts; the platform provider has none.
func TestDefault_ChecksAreDeclaredWhereDocumented(t *testing.T) {
	t.Parallel()
	want := map[string]string{
		"anthropic-api":  "https://api.anthropic.com/v1/models?limit=1",
		"byok-anthropic": "https://api.anthropic.com/v1/models?limit=1",
		"openai-api":     "https://api.openai.com/v1/models",
		"byok-openai":    "https://api.openai.com/v1/models",
		"google":         "https://generativelanguage.googleapis.com/v1beta/models?pageSize=1",
		"byok-gemini":    "https://generativelanguage.googleapis.com/v1beta/models?pageSize=1",
		"openrouter":     "https://openrouter.ai/api/v1/key",
		"deepseek":       "https://api.deepseek.com/models",
		"groq":           "https://api.groq.com/openai/v1/models",
		"huggingface":    "https://huggingface.co/api/whoami-v2",
	}
	got := map[string]string{}
	for _, p := range registry.Default().Providers() {
		if p.Check != nil {
			got[p.Name] = p.Check.URL(p.Check.BaseURL)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("default catalog checks (-want +got):\n%s", diff)
	}
}
