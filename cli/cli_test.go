package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runIn runs the command line on the embedded store in dir with stdin and
// an environment of its own.
func runIn(t *testing.T, dir, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := map[string]string{"MODELGATE_DATA_DIR": dir}
	code := Main(Env{Args: args, Stdin: strings.NewReader(stdin), Stdout: &stdout, Stderr: &stderr,
		Getenv: func(k string) string { return env[k] }})
	return code, stdout.String(), stderr.String()
}

const cliCanary = "sk-cli-canary-0c5b"

func TestCLI_SecretSetReadsTheValueFromStdinAndNeverPrintsIt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, out, errOut := runIn(t, dir, cliCanary+"\n", "secret", "set", "ANTHROPIC_API_KEY", "--org", "acme")
	if code != 0 || !strings.Contains(out, "set ANTHROPIC_API_KEY for org acme") {
		t.Fatalf("secret set: %d %q %q", code, out, errOut)
	}
	code, out, _ = runIn(t, dir, "", "secret", "list", "--org", "acme")
	if code != 0 || !strings.Contains(out, "ANTHROPIC_API_KEY") {
		t.Fatalf("secret list: %d %q", code, out)
	}
	code, out, _ = runIn(t, dir, "", "models", "--runtime", "claude-code", "--org", "acme", "--json")
	var models struct {
		Arms []struct {
			Provider            string `json:"provider"`
			CredentialAvailable bool   `json:"credential_available"`
		} `json:"arms"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &models) != nil {
		t.Fatalf("models: %d %q", code, out)
	}
	for _, a := range models.Arms {
		if a.Provider == "anthropic-api" && !a.CredentialAvailable {
			t.Fatal("the org secret set by the CLI is not seen by discovery")
		}
	}
	if code, out, _ = runIn(t, dir, "", "secret", "delete", "ANTHROPIC_API_KEY", "--org", "acme"); code != 0 || !strings.Contains(out, "deleted") {
		t.Fatalf("secret delete: %d %q", code, out)
	}
	if code, out, _ = runIn(t, dir, "", "secret", "delete", "ANTHROPIC_API_KEY", "--org", "acme"); code != 0 || !strings.Contains(out, "was not set") {
		t.Fatalf("second delete: %d %q", code, out)
	}
	if code, _, errOut = runIn(t, dir, "", "secret", "set", "ANTHROPIC_API_KEY"); code == 0 || !strings.Contains(errOut, "stdin") {
		t.Fatalf("set with empty stdin: %d %q", code, errOut)
	}
	if code, _, errOut = runIn(t, dir, "v", "secret", "set", "lower-case"); code == 0 || !strings.Contains(errOut, "INVALID_ARGUMENT") {
		t.Fatalf("set with a bad name: %d %q", code, errOut)
	}
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			if b, _ := os.ReadFile(path); bytes.Contains(b, []byte(cliCanary)) {
				t.Errorf("%s holds the secret value in clear", path)
			}
		}
		return nil
	})
}

func TestCLI_WorkspacesAndAuditShowProvisioning(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	id := provisionOnEmbeddedStore(t, dir)
	code, out, errOut := runIn(t, dir, "", "workspaces", "--json")
	if code != 0 || !strings.Contains(out, id) {
		t.Fatalf("workspaces --json: %d %q %q", code, out, errOut)
	}
	code, out, _ = runIn(t, dir, "", "workspaces")
	if code != 0 || !strings.Contains(out, "provisioning") || !strings.Contains(out, "NAME") {
		t.Fatalf("workspaces: %d %q", code, out)
	}
	code, out, _ = runIn(t, dir, "", "audit", "--json", "--since", "1h")
	var audit struct {
		Audit []struct {
			Allowed     bool   `json:"allowed"`
			WorkspaceID string `json:"workspace_id"`
		} `json:"audit"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &audit) != nil || len(audit.Audit) != 1 || !audit.Audit[0].Allowed || audit.Audit[0].WorkspaceID != id {
		t.Fatalf("audit --json: %d %q", code, out)
	}
	if code, out, _ = runIn(t, dir, "", "audit", "--org", "someone-else"); code != 0 || strings.Contains(out, id) {
		t.Fatalf("audit of another org shows this org's decision: %q", out)
	}
	if code, _, errOut = runIn(t, dir, "", "audit", "--since", "yesterday"); code == 0 || !strings.Contains(errOut, "--since") {
		t.Fatalf("bad --since: %d %q", code, errOut)
	}
}

func TestCLI_CatalogCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte(`version: 1
default_runtime: rt
default_model: platform/m
providers:
  - {name: platform, display_name: Platform, auth_env: [MODELGATE_PLATFORM_TOKEN], pattern: '^platform/'}
runtimes:
  - name: rt
    arms:
      - {provider: platform, models: [platform/m]}
`), 0o644)
	if code, out, errOut := runIn(t, dir, "", "catalog", "check", good); code != 0 || !strings.Contains(out, "ok") || !strings.Contains(out, "1 providers") {
		t.Fatalf("catalog check good: %d %q %q", code, out, errOut)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("version: 2\n"), 0o644)
	if code, _, errOut := runIn(t, dir, "", "catalog", "check", bad); code != 1 || !strings.Contains(errOut, "bad.yaml:1") {
		t.Fatalf("catalog check bad: %d %q", code, errOut)
	}
}

func TestCLI_HelpConfigDocumentsEverySettingAndItsEnvironmentVariable(t *testing.T) {
	t.Parallel()
	code, out, _ := runIn(t, t.TempDir(), "", "help", "config")
	if code != 0 {
		t.Fatalf("help config exit %d", code)
	}
	for _, s := range settings {
		if (s.name != "" && !strings.Contains(out, "--"+s.name)) || !strings.Contains(out, "$"+s.env) {
			t.Errorf("help config does not document --%s [$%s]", s.name, s.env)
		}
	}
	code, out, _ = runIn(t, t.TempDir(), "", "--help")
	if code != 0 {
		t.Fatalf("--help exit %d", code)
	}
	for _, c := range commands {
		if !strings.Contains(out, c.name) {
			t.Errorf("--help does not list the %s command", c.name)
		}
	}
}

func TestCLI_ConfigFromEnvironmentAndFlags(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A catalog default that is not platform-billed is refused at start.
	var stdout, stderr bytes.Buffer
	env := map[string]string{"MODELGATE_DATA_DIR": dir, "MODELGATE_DEFAULT_RUNTIME": "codex"}
	code := Main(Env{Args: []string{"models", "--json"}, Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
		Getenv: func(k string) string { return env[k] }})
	if code == 0 || !strings.Contains(stderr.String(), "not platform-billed") {
		t.Fatalf("MODELGATE_DEFAULT_RUNTIME=codex with the claude-code default model: %d %q", code, stderr.String())
	}
	env["MODELGATE_DEFAULT_MODEL"] = "openai/gpt-5.4"
	stdout.Reset()
	stderr.Reset()
	code = Main(Env{Args: []string{"models", "--json"}, Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
		Getenv: func(k string) string { return env[k] }})
	if code != 0 || !strings.Contains(stdout.String(), `"runtime":"codex"`) {
		t.Fatalf("defaults from the environment: %d %q %q", code, stdout.String(), stderr.String())
	}
	// A flag wins over the environment.
	if code, out, _ := runIn(t, dir, "", "models", "--json", "--default-runtime", "hermes"); code != 0 || !strings.Contains(out, `"runtime":"hermes"`) {
		t.Fatalf("--default-runtime: %d %q", code, out)
	}
	if code, _, errOut := runIn(t, dir, "", "models", "--log-level", "loud"); code == 0 || !strings.Contains(errOut, "log-level") {
		t.Fatalf("bad --log-level: %d %q", code, errOut)
	}
}

func TestCLI_ArgumentThatIsASecretIsRefusedWithoutEchoingIt(t *testing.T) {
	t.Parallel()
	token := "mg_abcdefghijkl_" + strings.Repeat("Z", 43) // a whole token where a prefix belongs
	for name, args := range map[string][]string{
		"token revoke with a whole token":       {"token", "revoke", token},
		"secret set with KEY=VALUE":             {"secret", "set", "ANTHROPIC_API_KEY=" + cliCanary},
		"secret set with the value as the key":  {"secret", "set", cliCanary},
		"secret delete with the value as a key": {"secret", "delete", cliCanary},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runIn(t, t.TempDir(), "x\n", args...)
			if code == 0 || strings.Contains(out+errOut, cliCanary) || strings.Contains(out+errOut, "ZZZZ") {
				t.Fatalf("exit %d, stdout %q, stderr %q; want a refusal that does not repeat the argument", code, out, errOut)
			}
		})
	}
}

func TestCLI_MalformedNumericOrBooleanEnvironmentValueIsRefused(t *testing.T) {
	t.Parallel()
	// A value that does not parse must not silently become false or 0:
	// MODELGATE_READ_ONLY=yes would serve the write tools, and
	// MODELGATE_RATE_LIMIT=ten would turn the limit off.
	for env, value := range map[string]string{
		"MODELGATE_READ_ONLY":         "yes",
		"MODELGATE_ALLOW_NO_AUTH":     "on",
		"MODELGATE_CALL_TIMEOUT":      "10",
		"MODELGATE_SHUTDOWN_TIMEOUT":  "15 s",
		"MODELGATE_MAX_BODY_BYTES":    "1MiB",
		"MODELGATE_RATE_LIMIT":        "ten",
		"MODELGATE_BURST":             "20.5",
		"MODELGATE_MAX_ATTEMPTS":      "five",
		"MODELGATE_PROVISION_TIMEOUT": "10 minutes",
		"MODELGATE_NO_PROVISIONER":    "nope",
	} {
		t.Run(env, func(t *testing.T) {
			t.Parallel()
			vars := map[string]string{"MODELGATE_DATA_DIR": t.TempDir(), env: value}
			var stdout, stderr bytes.Buffer
			code := Main(Env{Args: []string{"serve"}, Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
				Getenv: func(k string) string { return vars[k] }})
			if code == 0 || !strings.Contains(stderr.String(), env) {
				t.Fatalf("%s=%q: exit %d, stderr %q; want a non-zero exit naming the variable", env, value, code, stderr.String())
			}
		})
	}
}

func TestParseSince(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"":                     {},
		"2h":                   now.Add(-2 * time.Hour),
		"2026-11-01T00:00:00Z": time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
	} {
		got, err := parseSince(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

// TestCLI_RotateKeyReencryptsSoOnlyTheNewKeyIsNeeded: a secret sealed under
// key 1 is re-encrypted by `secret rotate-key` (key 2 current, key 1
// previous); afterwards a provisioner holding only key 2 opens it and hands
// the right value to the driver.
func TestCLI_RotateKeyReencryptsSoOnlyTheNewKeyIsNeeded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	k1, k2 := strings.Repeat("A", 43)+"=", strings.Repeat("B", 43)+"="
	runEnv := func(env map[string]string, stdin string, args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		env["MODELGATE_DATA_DIR"] = dir
		env["MODELGATE_VERIFY_CREDENTIALS"] = "off" // a test key never goes to a real provider
		code := Main(Env{Args: args, Stdin: strings.NewReader(stdin), Stdout: &stdout, Stderr: &stderr,
			Getenv: func(k string) string { return env[k] }})
		return code, stdout.String(), stderr.String()
	}
	if code, _, errOut := runEnv(map[string]string{"MODELGATE_SECRETS_KEY": k1}, cliCanary, "secret", "set", "ANTHROPIC_API_KEY"); code != 0 {
		t.Fatalf("secret set: %s", errOut)
	}
	id := provisionWithKey(t, dir, k1, "claude-sonnet-4-6")

	code, out, errOut := runEnv(map[string]string{"MODELGATE_SECRETS_KEY": k2, "MODELGATE_SECRETS_PREVIOUS_KEYS": k1}, "", "secret", "rotate-key")
	if code != 0 || !strings.Contains(out, "re-encrypted 1 secret(s)") {
		t.Fatalf("rotate-key: %d %q %q", code, out, errOut)
	}
	code, out, provLog := runEnv(map[string]string{"MODELGATE_SECRETS_KEY": k2}, "", "provisioner", "--once", "--driver", "exec",
		"--exec-command", `test "$ANTHROPIC_API_KEY" = "`+cliCanary+`"`)
	if code != 0 || !strings.Contains(out, "handled 1 workspace") {
		t.Fatalf("provisioner with the new key only: %d %q %q", code, out, provLog)
	}
	code, out, _ = runEnv(map[string]string{"MODELGATE_SECRETS_KEY": k2}, "", "workspaces", "--json")
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, `"status": "online"`) {
		t.Fatalf("workspace after provisioning with the rotated key: %q\nprovisioner log: %s", out, provLog)
	}
	errOut += provLog
	if strings.Contains(out+errOut, cliCanary) {
		t.Fatal("the secret value was printed")
	}
}

func TestConfig_MetricsAreOnByDefaultOnlyOnALoopbackListener(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		env  map[string]string
		args []string
		want bool
	}{
		{nil, []string{"--transport", "http", "--addr", "127.0.0.1:8080"}, true},
		{nil, []string{"--transport", "sse", "--addr", "[::1]:8080"}, true},
		{nil, []string{"--transport", "http", "--addr", "0.0.0.0:8080"}, false},
		{nil, []string{"--transport", "http", "--addr", ":8080"}, false},
		{nil, []string{"--transport", "http", "--addr", ":8080", "--metrics"}, true},
		{nil, []string{"--transport", "http", "--addr", "127.0.0.1:8080", "--metrics=false"}, false},
		{map[string]string{"MODELGATE_METRICS": "true"}, []string{"--transport", "http", "--addr", ":8080"}, true},
		{map[string]string{"MODELGATE_METRICS": "false"}, []string{"--transport", "http"}, false},
		{map[string]string{"MODELGATE_METRICS": "true"}, []string{"--transport", "stdio"}, false},
	} {
		inv, err := parse(Env{Getenv: func(k string) string { return c.env[k] }}, findCommand(commands, "serve"), "serve", c.args)
		if err != nil {
			t.Fatal(err)
		}
		if got := inv.cfg.metricsEnabled(); got != c.want {
			t.Errorf("env %v args %v: metrics %v, want %v", c.env, c.args, got, c.want)
		}
	}
	if _, err := parse(Env{Getenv: func(k string) string {
		return map[string]string{"MODELGATE_METRICS": "yes please"}[k]
	}}, findCommand(commands, "serve"), "serve", nil); err == nil || !strings.Contains(err.Error(), "MODELGATE_METRICS") {
		t.Fatalf("MODELGATE_METRICS=\"yes please\": %v, want an error naming the variable", err)
	}
}
