package provisioner_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/provisioner"
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
