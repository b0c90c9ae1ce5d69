package provisioner_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/provisioner"
	"github.com/modelgate/modelgate/secrets"
)

// readEnv parses the output of env(1): NAME=value lines.
func readEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), "=")
		if ok {
			env[name] = value
		}
	}
	return env
}

func TestExecDriver_GetsTheWorkspaceAndExactlyTheAcceptedCredentialsButNotTheServerEnvironment(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "env.txt")
	p, b := setup(t, "sqlite", func(o *provisioner.Options) {
		o.Driver = &provisioner.ExecDriver{Command: "env > '" + out + "'"}
	})
	b.setOrgSecret(t, "ANTHROPIC_AUTH_TOKEN", "org-auth-token")
	b.setOrgSecret(t, "OPENAI_API_KEY", "org-openai-key") // not accepted by anthropic-api
	w := b.provision(t, "coder", byokModel, map[string]string{
		"ANTHROPIC_API_KEY": "ws-api-key",
		"GROQ_API_KEY":      "ws-groq-key", // not accepted either
	})

	runOnce(t, p)
	if got := b.get(t, w.ID); got.Status != modelgate.StatusOnline {
		t.Fatalf("workspace is %s %q: %s", got.Status, got.StatusCode, got.StatusMessage)
	}
	env := readEnv(t, out)
	var names []string
	for name := range env {
		switch name {
		case "PWD", "OLDPWD", "SHLVL", "_": // set by the shell itself
		default:
			names = append(names, name)
		}
	}
	slices.Sort(names)
	want := []string{
		"ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN",
		provisioner.EnvWorkspaceAttempt, provisioner.EnvWorkspaceID, provisioner.EnvWorkspaceModel,
		provisioner.EnvWorkspaceName, provisioner.EnvWorkspaceOrg, provisioner.EnvWorkspaceParentID,
		provisioner.EnvWorkspaceProvider, provisioner.EnvWorkspaceRole, provisioner.EnvWorkspaceRuntime,
		provisioner.EnvWorkspaceTier, "PATH",
	}
	if os.Getenv("HOME") != "" {
		want = append(want, "HOME")
	}
	slices.Sort(want)
	if diff := cmp.Diff(want, names); diff != "" {
		t.Fatalf("environment names (-want +got):\n%s", diff)
	}
	for name, value := range map[string]string{
		"ANTHROPIC_API_KEY":              "ws-api-key",
		"ANTHROPIC_AUTH_TOKEN":           "org-auth-token",
		provisioner.EnvWorkspaceID:       w.ID,
		provisioner.EnvWorkspaceName:     "coder",
		provisioner.EnvWorkspaceRuntime:  "claude-code",
		provisioner.EnvWorkspaceModel:    byokModel,
		provisioner.EnvWorkspaceProvider: "anthropic-api",
		provisioner.EnvWorkspaceAttempt:  "1",
	} {
		if env[name] != value {
			t.Errorf("%s=%q, want %q", name, env[name], value)
		}
	}
}

func TestExecDriver_SecretPrintedToStderrIsRedactedInTheStatusMessage(t *testing.T) {
	t.Parallel()
	p, b := setup(t, "sqlite", func(o *provisioner.Options) {
		o.MaxAttempts = 2
		o.Driver = &provisioner.ExecDriver{Command: `echo "auth failed for $ANTHROPIC_API_KEY / $ANTHROPIC_AUTH_TOKEN" >&2; exit 3`}
	})
	b.setOrgSecret(t, "ANTHROPIC_AUTH_TOKEN", "sk-ant-org-token-77")
	w := b.provision(t, "leaky", byokModel, map[string]string{"ANTHROPIC_API_KEY": "sk-ant-ws-key-42"})

	runOnce(t, p)
	got := b.get(t, w.ID)
	if got.Status != modelgate.StatusFailed || got.StatusCode != provisioner.CodeDriverFailed || got.Attempts != 2 {
		t.Fatalf("workspace is %s %q after %d attempts, want failed DRIVER_FAILED after 2", got.Status, got.StatusCode, got.Attempts)
	}
	for _, v := range []string{"sk-ant-ws-key-42", "sk-ant-org-token-77"} {
		if strings.Contains(got.StatusMessage, v) {
			t.Fatalf("status message leaks a secret: %s", got.StatusMessage)
		}
	}
	for _, want := range []string{"exit status 3", "auth failed for [REDACTED] / [REDACTED]"} {
		if !strings.Contains(got.StatusMessage, want) {
			t.Errorf("status message lacks %q: %s", want, got.StatusMessage)
		}
	}
}

func TestExecDriver_StderrTailNeverShowsHalfASecret(t *testing.T) {
	t.Parallel()
	const secret = "sk-ant-HALF-0123456789abcdefghij-END"
	// The secret, then 2040 bytes: the 2 KiB tail starts 8 bytes before
	// the secret's end.
	p, b := setup(t, "sqlite", func(o *provisioner.Options) {
		o.MaxAttempts = 1
		o.Driver = &provisioner.ExecDriver{Command: `printf '%s' "$ANTHROPIC_API_KEY" >&2; head -c 2040 /dev/zero | tr '\0' x >&2; exit 1`}
	})
	w := b.provision(t, "cut", byokModel, map[string]string{"ANTHROPIC_API_KEY": secret})

	runOnce(t, p)
	got := b.get(t, w.ID)
	if strings.Contains(got.StatusMessage, "-END") || strings.Contains(got.StatusMessage, "ghij") {
		t.Fatalf("status message shows the end of a secret: %.120s", got.StatusMessage)
	}
	if !strings.Contains(got.StatusMessage, "stderr: …xxxx") {
		t.Fatalf("status message: %.120s", got.StatusMessage)
	}
}

// A driver written in another language prints a key the way that language
// escapes it: Python's urllib.parse.quote keeps "/" but escapes "+" and "=",
// json.dumps writes "é" as \u00e9, html.escape writes &lt;&amp;&gt;. None
// of it may reach the status message or the log.
func TestExecDriver_SecretPrintedInAnotherLanguagesEscapingIsRedacted(t *testing.T) {
	t.Parallel()
	// The command escapes the keys with sed as those functions do.
	const command = `
key=$(printf '%s' "$ANTHROPIC_API_KEY" | sed 's/+/%2B/g; s/=/%3D/g')
token_json=$(printf '%s' "$ANTHROPIC_AUTH_TOKEN" | sed 's/é/\\u00e9/g')
token_html=$(printf '%s' "$ANTHROPIC_AUTH_TOKEN" | sed 's/&/\&amp;/g; s/</\&lt;/g; s/>/\&gt;/g')
printf 'GET /v1?key=%s failed\n{"token": "%s"}\n<p>%s</p>\n' "$key" "$token_json" "$token_html" >&2
exit 1`
	var logged strings.Builder
	var logMu sync.Mutex
	p, b := setup(t, "sqlite", func(o *provisioner.Options) {
		o.MaxAttempts = 1
		o.Driver = &provisioner.ExecDriver{Command: command}
		o.Log = zerolog.New(writerFunc(func(p []byte) (int, error) {
			logMu.Lock()
			defer logMu.Unlock()
			return logged.Write(p)
		}))
	})
	b.setOrgSecret(t, "ANTHROPIC_AUTH_TOKEN", "sk-CANARYé9x<&>q")
	w := b.provision(t, "escaping", byokModel, map[string]string{"ANTHROPIC_API_KEY": "sk-CANARY/x8Kq+y=z"})

	runOnce(t, p)
	got := b.get(t, w.ID)
	for _, want := range []string{"GET /v1?key=[REDACTED] failed", `{"token": "[REDACTED]"}`, "<p>[REDACTED]</p>"} {
		if !strings.Contains(got.StatusMessage, want) {
			t.Errorf("status message lacks %q: %s", want, got.StatusMessage)
		}
	}
	logMu.Lock()
	defer logMu.Unlock()
	if !strings.Contains(logged.String(), "driver attempt failed") {
		t.Fatalf("the failed attempt was not logged: %s", logged.String())
	}
	if strings.Contains(got.StatusMessage, "CANARY") || strings.Contains(logged.String(), "CANARY") {
		t.Fatalf("status message or log holds a key:\n%s\n%s", got.StatusMessage, logged.String())
	}
}

// escapedKey is a key with slashes, and escapedKeyCommand prints it to
// stderr URL-escaped with nothing kept (each / as %2F, as Python's
// quote(v, safe="") writes it) and then filler x bytes.
const escapedKey = "sk-aaaa/bbbb/cccc/dddd/eeee/ffff-END"

func escapedKeyCommand(filler int) string {
	return fmt.Sprintf(`printf '%%s' "$ANTHROPIC_API_KEY" | sed 's|/|%%2F|g' >&2; head -c %d /dev/zero | tr '\0' x >&2; exit 1`, filler)
}

// The 2 KiB tail of stderr may start inside an escaped key, even inside one
// of its escapes (…%2|Fcccc%2Fdddd…): what is left of the key there must go
// too, not only a cut in the key as it is.
func TestExecDriver_StderrTailCutInsideAnEscapedSecretShowsNoneOfIt(t *testing.T) {
	t.Parallel()
	escaped := strings.ReplaceAll(escapedKey, "/", "%2F")
	cut := strings.Index(escaped, "%2Fcccc") + 2 // the tail starts with "Fcccc%2Fdddd"
	p, b := setup(t, "sqlite", func(o *provisioner.Options) {
		o.MaxAttempts = 1
		o.Driver = &provisioner.ExecDriver{Command: escapedKeyCommand(provisioner.StderrTailBytes - (len(escaped) - cut))}
	})
	w := b.provision(t, "cut-escaped", byokModel, map[string]string{"ANTHROPIC_API_KEY": escapedKey})

	runOnce(t, p)
	got := b.get(t, w.ID)
	for _, part := range []string{"cccc", "dddd", "eeee", "ffff", "END"} {
		if strings.Contains(got.StatusMessage, part) {
			t.Fatalf("status message shows part of the key, %q: %.120s", part, got.StatusMessage)
		}
	}
	if !strings.Contains(got.StatusMessage, "stderr: …xxxx") {
		t.Fatalf("status message: %.120s", got.StatusMessage)
	}
}

// Wherever in the escaped key the tail starts, the error shows none of it.
func TestExecDriver_StderrTailCutAnywhereInAnEscapedSecretShowsNoneOfIt(t *testing.T) {
	t.Parallel()
	escaped := strings.ReplaceAll(escapedKey, "/", "%2F")
	creds := map[string]string{"ANTHROPIC_API_KEY": escapedKey}
	redactor := secrets.NewRedactor(escapedKey)
	for cut := 1; cut < len(escaped); cut++ {
		d := &provisioner.ExecDriver{Command: escapedKeyCommand(provisioner.StderrTailBytes - (len(escaped) - cut))}
		err := d.Start(context.Background(), &modelgate.Workspace{ID: "cut"}, creds)
		if err == nil {
			t.Fatal("the command succeeded")
		}
		msg := redactor.Redact(err.Error())
		if !strings.HasPrefix(msg, "exec: exit status 1; stderr: …xxxx") || strings.Trim(strings.TrimPrefix(msg, "exec: exit status 1; stderr: …"), "x") != "" {
			t.Errorf("cut at %d of %q: %.80s", cut, escaped, msg)
		}
	}
}

func TestExecDriver_AttemptDeadlineKillsTheCommand(t *testing.T) {
	t.Parallel()
	p, b := setup(t, "sqlite", func(o *provisioner.Options) {
		o.MaxAttempts = 1
		o.Lease, o.AttemptTimeout = 2*time.Second, 200*time.Millisecond
		o.Driver = &provisioner.ExecDriver{Command: "echo starting >&2; sleep 30"}
	})
	w := b.provision(t, "slow", platformModel, nil)

	runOnce(t, p)
	got := b.get(t, w.ID)
	if got.StatusCode != provisioner.CodeDriverFailed || !strings.Contains(got.StatusMessage, "timed out") ||
		!strings.Contains(got.StatusMessage, "starting") {
		t.Fatalf("workspace is %s %q: %s", got.Status, got.StatusCode, got.StatusMessage)
	}
}

func TestExecDriver_DirectStartSucceedsOnExitZero(t *testing.T) {
	t.Parallel()
	d, err := provisioner.NewExecDriver("test \"$MODELGATE_WORKSPACE_NAME\" = alpha")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := d.Start(ctx, &modelgate.Workspace{Name: "alpha"}, nil); err != nil {
		t.Fatalf("exit 0 reported as %v", err)
	}
	if err := d.Start(ctx, &modelgate.Workspace{Name: "beta"}, nil); err == nil || !strings.Contains(err.Error(), "exit status 1") {
		t.Fatalf("exit 1 reported as %v", err)
	}
	if _, err := provisioner.NewExecDriver("  "); err == nil {
		t.Fatal("NewExecDriver accepted a blank command")
	}
}

// execHelperEnv, when set, makes the test binary a stand-in server that
// runs the exec driver with the variable's value as the command and waits
// (TestMain); a test kills it.
const execHelperEnv = "MODELGATE_TEST_EXEC_HELPER_COMMAND"

// execHelper runs command with the exec driver, as a provisioner would, and
// exits when it ends.
func execHelper(command string) {
	d := &provisioner.ExecDriver{Command: command}
	err := d.Start(context.Background(), &modelgate.Workspace{ID: "helper"}, map[string]string{"ANTHROPIC_API_KEY": "sk-helper"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}
