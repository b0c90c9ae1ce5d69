package cli

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/postgres/pgtest"
	"github.com/modelgate/modelgate/provisioner"
)

// runEnv runs the command line with exactly the environment vars.
func runEnv(vars map[string]string, stdin string, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := Main(Env{Args: args, Stdin: strings.NewReader(stdin), Stdout: &stdout, Stderr: &stderr,
		Getenv: func(k string) string { return vars[k] }})
	return code, stdout.String(), stderr.String()
}

// writeFile writes content to a new file in t's temporary directory and
// returns its path.
func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "value")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCLI_ToolsAllowListThatNamesNoKnownToolIsRefusedAtStart (issue 11,
// finding 5): MODELGATE_TOOLS=" , " parsed to an empty list, which meant
// "every tool": the allow-list failed open. A list that names no tool, or a
// tool that does not exist, stops serve before anything is opened.
func TestCLI_ToolsAllowListThatNamesNoKnownToolIsRefusedAtStart(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ value, want string }{
		{" , ", "names no tool"},
		{",", "names no tool"},
		{"   ", "names no tool"},
		{"list_offered_models, provision_workspce", `unknown tool "provision_workspce"; did you mean "provision_workspace"?`},
		{"everything", `unknown tool "everything"`},
	} {
		t.Run(c.value, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			code, out, errOut := runEnv(map[string]string{"MODELGATE_DATA_DIR": dir, "MODELGATE_TOOLS": c.value}, "", "serve")
			if code != 2 || out != "" || !strings.Contains(errOut, "MODELGATE_TOOLS") || !strings.Contains(errOut, c.want) {
				t.Fatalf("MODELGATE_TOOLS=%q: exit %d, stdout %q, stderr %q; want exit 2 and an error holding %q", c.value, code, out, errOut, c.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Fatalf("the store was opened before the allow-list was checked: %v", entries)
			}
		})
	}
	// A list naming real tools is accepted (and served: mcpserver's tests).
	if _, err := (&Config{Tools: " list_offered_models ,get_workspace"}).allowList(); err != nil {
		t.Fatalf("a valid allow-list: %v", err)
	}
}

// TestCLI_OrgNamesOutsideTheGrammarAreRefusedEverywhere (issue 11, finding
// 6): token create --org $'a\nb' forged a row in token list; ' ' and a
// 300-byte org were accepted too. Every path that names an org (the flag,
// MODELGATE_ORG, every command) refuses a name outside the grammar, and the
// store's token list stays empty.
func TestCLI_OrgNamesOutsideTheGrammarAreRefusedEverywhere(t *testing.T) {
	t.Parallel()
	bad := []string{"a\nb", " ", "", "Acme", "acme corp", strings.Repeat("o", 300), "-x", "a\x1b[2Jb"}
	for _, org := range bad {
		for name, args := range map[string][]string{
			"token create --org":  {"token", "create", "--org", org, "--name", "n"},
			"secret set --org":    {"secret", "set", "ANTHROPIC_API_KEY", "--org", org},
			"serve --org":         {"serve", "--org", org},
			"token create env":    {"token", "create"},
			"workspaces env":      {"workspaces"},
			"models --org=":       {"models", "--org=" + org},
			"audit --org":         {"audit", "--org", org},
			"provisioner --org":   {"provisioner", "--once", "--org", org},
			"token list env":      {"token", "list"},
			"secret rotate-key e": {"secret", "rotate-key"},
		} {
			vars := map[string]string{}
			if strings.HasSuffix(name, "env") || strings.HasSuffix(name, " e") {
				if org == "" {
					continue // an empty variable is an unset one: the default org
				}
				vars["MODELGATE_ORG"] = org
			}
			t.Run(name+"/"+strings.ToValidUTF8(org[:min(len(org), 8)], "?"), func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				vars["MODELGATE_DATA_DIR"] = dir
				code, out, errOut := runEnv(vars, "sk-value\n", args...)
				if code != 2 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "org name") {
					t.Fatalf("org %q: exit %d, stdout %q, stderr %q; want exit 2 and one line about the org name", org, code, out, errOut)
				}
				if entries, _ := os.ReadDir(dir); len(entries) != 0 {
					t.Fatalf("org %q: the store was opened: %v", org, entries)
				}
			})
		}
	}
	// And a valid org still works, end to end.
	dir := t.TempDir()
	if code, out, errOut := runIn(t, dir, "", "token", "create", "--org", "team.eu_1-x"); code != 0 || !strings.HasPrefix(out, "mg_") {
		t.Fatalf("token create with a valid org: %d %q %q", code, out, errOut)
	}
	if code, out, _ := runIn(t, dir, "", "token", "list", "--all"); code != 0 || strings.Count(out, "\n") != 2 || !strings.Contains(out, "team.eu_1-x") {
		t.Fatalf("token list: %d %q; want the header and one row", code, out)
	}
}

// TestCLI_SecretsFromFiles (issue 11, finding 11): every secret setting
// reads $NAME_FILE, less one trailing newline; giving both, or an empty or
// missing file, is refused without printing the value.
func TestCLI_SecretsFromFiles(t *testing.T) {
	t.Parallel()
	k1, k2 := strings.Repeat("A", 43)+"=", strings.Repeat("B", 43)+"="

	t.Run("MODELGATE_SECRETS_KEY_FILE and MODELGATE_SECRETS_PREVIOUS_KEYS_FILE", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		vars := map[string]string{"MODELGATE_DATA_DIR": dir, "MODELGATE_SECRETS_KEY_FILE": writeFile(t, k1+"\n")}
		if code, _, errOut := runEnv(vars, cliCanary, "secret", "set", "ANTHROPIC_API_KEY"); code != 0 {
			t.Fatalf("secret set with the key in a file: %s", errOut)
		}
		if _, err := os.Stat(filepath.Join(dir, "secrets.key")); !os.IsNotExist(err) {
			t.Fatalf("a key file was created in the data dir although the key was given (stat: %v)", err)
		}
		// Rotating opens the value under k1, read from the previous-keys file.
		vars = map[string]string{"MODELGATE_DATA_DIR": dir, "MODELGATE_SECRETS_KEY": k2,
			"MODELGATE_SECRETS_PREVIOUS_KEYS_FILE": writeFile(t, k1+"\r\n")}
		if code, out, errOut := runEnv(vars, "", "secret", "rotate-key"); code != 0 || !strings.Contains(out, "re-encrypted 1 secret(s)") {
			t.Fatalf("rotate-key with the previous key in a file: %d %q %q", code, out, errOut)
		}
	})

	t.Run("MODELGATE_WEBHOOK_SECRET_FILE signs the webhook", func(t *testing.T) {
		t.Parallel()
		const secret = "whsec-from-a-file"
		var verified, called bool
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			called = true
			verified = provisioner.VerifySignature(secret, r.Header.Get(provisioner.HeaderTimestamp), body, r.Header.Get(provisioner.HeaderSignature))
		}))
		defer srv.Close()
		dir := t.TempDir()
		provisionOnEmbeddedStore(t, dir)
		vars := map[string]string{"MODELGATE_DATA_DIR": dir, "MODELGATE_WEBHOOK_SECRET_FILE": writeFile(t, secret+"\n")}
		code, out, errOut := runEnv(vars, "", "provisioner", "--once", "--driver", "webhook", "--webhook-url", srv.URL)
		if code != 0 || !strings.Contains(out, "handled 1") || !called || !verified {
			t.Fatalf("exit %d %q %q; webhook called %v, signature verified with the file's secret %v", code, out, errOut, called, verified)
		}
		if strings.Contains(errOut, "visible to other users") {
			t.Fatalf("a secret from a file was warned about: %q", errOut)
		}
	})

	t.Run("MODELGATE_DATABASE_URL_FILE opens PostgreSQL", func(t *testing.T) {
		t.Parallel()
		vars := map[string]string{"MODELGATE_DATA_DIR": t.TempDir(), "MODELGATE_SECRETS_KEY": k1,
			"MODELGATE_DATABASE_URL_FILE": writeFile(t, pgtest.SchemaURL(t)+"\n")}
		if code, out, errOut := runEnv(vars, "", "migrate"); code != 0 || !strings.Contains(out, "schema version") {
			t.Fatalf("migrate with the URL in a file: %d %q %q", code, out, errOut)
		}
	})

	for name, c := range map[string]struct {
		vars map[string]string
		want string
	}{
		"both set":     {map[string]string{"MODELGATE_SECRETS_KEY": k1, "MODELGATE_SECRETS_KEY_FILE": writeFile(t, k1)}, "$MODELGATE_SECRETS_KEY and $MODELGATE_SECRETS_KEY_FILE are both set"},
		"empty file":   {map[string]string{"MODELGATE_WEBHOOK_SECRET_FILE": writeFile(t, "\n")}, "is empty"},
		"missing file": {map[string]string{"MODELGATE_DATABASE_URL_FILE": filepath.Join(t.TempDir(), "nope")}, "$MODELGATE_DATABASE_URL_FILE: open"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c.vars["MODELGATE_DATA_DIR"] = t.TempDir()
			code, out, errOut := runEnv(c.vars, "", "serve")
			if code != 2 || out != "" || !strings.Contains(errOut, c.want) || strings.Contains(errOut, k1) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2 and %q without the value", code, out, errOut, c.want)
			}
		})
	}
}

// TestCLI_SecretGivenAsAFlagIsWarnedAbout (issue 11, finding 11): a secret
// on the command line shows in ps; it still works, with a warning that
// names the flag and its variables and never the value.
func TestCLI_SecretGivenAsAFlagIsWarnedAbout(t *testing.T) {
	t.Parallel()
	const secret = "whsec-on-the-command-line"
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	dir := t.TempDir()
	provisionOnEmbeddedStore(t, dir)
	code, out, errOut := runIn(t, dir, "", "provisioner", "--once", "--driver", "webhook", "--webhook-url", srv.URL, "--webhook-secret", secret)
	if code != 0 || !strings.Contains(out, "handled 1") {
		t.Fatalf("provisioner: %d %q %q", code, out, errOut)
	}
	if !strings.Contains(errOut, "--webhook-secret on the command line is visible to other users") ||
		!strings.Contains(errOut, "MODELGATE_WEBHOOK_SECRET_FILE") || strings.Contains(errOut, secret) {
		t.Fatalf("stderr %q; want a warning naming --webhook-secret and MODELGATE_WEBHOOK_SECRET_FILE, without the value", errOut)
	}
	// A database URL with a password is warned about; one without is not.
	for _, c := range []struct {
		url  string
		warn bool
	}{
		{"postgres://app:hunter2@127.0.0.1:1/db", true},
		{"postgres://app@127.0.0.1:1/db?password=hunter2", true},
		{"host=127.0.0.1 port=1 user=app password=hunter2", true},
		{"postgres://app@127.0.0.1:1/db", false},
		{"host=127.0.0.1 port=1 user=app", false},
	} {
		s, _ := settingByKey("database-url")
		if got := secretOnCommandLine(s, c.url) != ""; got != c.warn {
			t.Errorf("--database-url %q: warned %v, want %v", c.url, got, c.warn)
		}
	}
	vars := map[string]string{"MODELGATE_DATA_DIR": t.TempDir(), "MODELGATE_SECRETS_KEY": strings.Repeat("A", 43) + "="}
	_, _, errOut = runEnv(vars, "", "migrate", "--database-url", "postgres://app:hunter2@127.0.0.1:1/db?connect_timeout=1")
	if !strings.Contains(errOut, "--database-url on the command line is visible") || strings.Contains(errOut, "hunter2") {
		t.Fatalf("migrate --database-url with a password: stderr %q; want the warning, without the password", errOut)
	}
}
