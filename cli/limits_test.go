package cli

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/sqlite"
)

func TestCLI_OrgSecretLimitFromTheEnvironmentOrAFlag(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := map[string]string{"MODELGATE_DATA_DIR": dir, "MODELGATE_MAX_ORG_SECRETS": "1"}
	set := func(key string, flags ...string) (int, string) {
		var stdout, stderr bytes.Buffer
		code := Main(Env{Args: append([]string{"secret", "set", key, "--org", "acme"}, flags...), Stdin: strings.NewReader(cliCanary + "\n"),
			Stdout: &stdout, Stderr: &stderr, Getenv: func(k string) string { return env[k] }})
		return code, stdout.String() + stderr.String()
	}
	if code, out := set("ANTHROPIC_API_KEY"); code != 0 {
		t.Fatalf("first secret: %d %q", code, out)
	}
	if code, out := set("OPENAI_API_KEY"); code == 0 || !strings.Contains(out, modelgate.EWorkspaceLimit) || !strings.Contains(out, "limit of 1 org secrets") {
		t.Fatalf("second secret with MODELGATE_MAX_ORG_SECRETS=1: %d %q; want WORKSPACE_LIMIT_REACHED naming the limit", code, out)
	}
	if code, out := set("ANTHROPIC_API_KEY"); code != 0 {
		t.Fatalf("replacing at the limit: %d %q", code, out)
	}
	if code, out := set("OPENAI_API_KEY", "--max-org-secrets", "2"); code != 0 {
		t.Fatalf("--max-org-secrets 2 over MODELGATE_MAX_ORG_SECRETS=1: %d %q", code, out)
	}
	if code, out := set("GROQ_API_KEY", "--max-org-secrets", "-1"); code == 0 || !strings.Contains(out, "--max-org-secrets") {
		t.Fatalf("--max-org-secrets -1: %d %q; want a refusal", code, out)
	}
	if code, out := set("GROQ_API_KEY", "--max-org-secrets", "0"); code != 0 {
		t.Fatalf("--max-org-secrets 0 (no limit): %d %q", code, out)
	}
}

// secret list prints every secret, not just the first page of the tool.
func TestCLI_SecretListPrintsEveryPage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "modelgate.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 450 // more than two pages of 200
	for i := range n {
		s := modelgate.SealedSecret{Name: fmt.Sprintf("KEY_%03d", i), Sealed: modelgate.Sealed{KeyID: "k", Ciphertext: []byte("sealed")}}
		if _, err := db.SetOrgSecret(context.Background(), "acme", s, 0); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	code, out, errOut := runIn(t, dir, "", "secret", "list", "--org", "acme")
	if code != 0 {
		t.Fatalf("secret list: %d %q", code, errOut)
	}
	for i := range n {
		if !strings.Contains(out, fmt.Sprintf("KEY_%03d ", i)) {
			t.Fatalf("secret list does not show KEY_%03d", i)
		}
	}
	if lines := strings.Count(out, "\n"); lines != n+1 {
		t.Errorf("secret list printed %d lines, want a header and %d secrets", lines, n)
	}
}

// As every numeric variable: a value that does not parse must not become
// 0, which would turn the limit off.
func TestCLI_MalformedLimitInTheEnvironmentIsRefused(t *testing.T) {
	t.Parallel()
	for env, value := range map[string]string{"MODELGATE_MAX_WORKSPACES_PER_ORG": "lots", "MODELGATE_MAX_ORG_SECRETS": "1e3"} {
		vars := map[string]string{"MODELGATE_DATA_DIR": t.TempDir(), env: value}
		var stdout, stderr bytes.Buffer
		code := Main(Env{Args: []string{"models", "--json"}, Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
			Getenv: func(k string) string { return vars[k] }})
		if code == 0 || !strings.Contains(stderr.String(), env) {
			t.Errorf("%s=%q: exit %d, stderr %q; want a non-zero exit naming the variable", env, value, code, stderr.String())
		}
	}
}

// The commands answer as the tools do when an argument is long: a runtime
// or provider longer than any catalog name is unknown, a secret value past
// the hard cap is refused naming the secret (and never printed).
func TestCLI_LongArgumentsGetTheToolsAnswers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	long := strings.Repeat("r", 65)
	if code, _, errOut := runIn(t, dir, "", "models", "--runtime", long); code == 0 || !strings.Contains(errOut, modelgate.ERuntimeUnsupported) || strings.Contains(errOut, long) {
		t.Errorf("models --runtime of 65 bytes: %d %q; want RUNTIME_UNSUPPORTED, the runtime cut", code, errOut)
	}
	if code, out, errOut := runIn(t, dir, "", "models", "--runtime", "codex", "--provider", long, "--json"); code != 0 || !strings.Contains(out, `"arms":[]`) {
		t.Errorf("models --provider of 65 bytes: %d %q %q; want no arms", code, out, errOut)
	}
	for _, n := range []int{20_000, 70_000, 2 << 20} {
		code, out, errOut := runIn(t, dir, cliCanary+strings.Repeat("k", n)+"\n", "secret", "set", "ANTHROPIC_API_KEY")
		want := "INVALID_ARGUMENT: value: the value of ANTHROPIC_API_KEY must be valid UTF-8 of at most 16384 bytes"
		if code == 0 || !strings.Contains(errOut, want) || strings.Contains(out+errOut, cliCanary) {
			t.Errorf("secret set, value of %d bytes: %d %q; want %q", n, code, errOut, want)
		}
	}
}
