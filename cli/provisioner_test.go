package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/gate"
	"github.com/modelgate/modelgate/provision"
	"github.com/modelgate/modelgate/registry"
	"github.com/modelgate/modelgate/secrets"
	"github.com/modelgate/modelgate/sqlite"
)

// runCLI runs the command line with an empty environment and returns the
// exit code, stdout and stderr.
func runCLI(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := Main(Env{Args: args, Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr,
		Getenv: func(string) string { return "" }})
	return code, stdout.String(), stderr.String()
}

// provisionOnEmbeddedStore creates a platform-billed workspace in the
// embedded store of dir, as `serve` would, and returns its id.
func provisionOnEmbeddedStore(t *testing.T, dir string) string {
	t.Helper()
	key, err := secrets.LoadOrCreateKeyFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	return provision1(t, dir, key, registry.Default().DefaultModel())
}

// provisionWithKey creates a workspace for model in the embedded store of
// dir, sealing with the base64 key, and returns its id.
func provisionWithKey(t *testing.T, dir, key64, model string) string {
	t.Helper()
	key, err := secrets.ParseKey(key64)
	if err != nil {
		t.Fatal(err)
	}
	return provision1(t, dir, key, model)
}

func provision1(t *testing.T, dir string, key []byte, model string) string {
	t.Helper()
	ctx := context.Background()
	keys, err := secrets.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(dir, "modelgate.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc := provision.New(db, gate.New(registry.Default(), zerolog.Nop()), keys, zerolog.Nop())
	res, err := svc.Provision(ctx, modelgate.Caller{Org: modelgate.DefaultOrg}, provision.Request{Name: "cli", Model: model})
	if err != nil {
		t.Fatal(err)
	}
	return res.ID
}

func TestProvisionerCommand_OnceStartsTheWaitingWorkspacesAndExits(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	id := provisionOnEmbeddedStore(t, dir)

	code, stdout, stderr := runCLI("provisioner", "--once", "--data-dir", dir, "--driver", "exec", "--exec-command", "true")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "handled 1 workspace") {
		t.Fatalf("stdout: %q", stdout)
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "modelgate.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	w, err := db.GetWorkspace(context.Background(), modelgate.DefaultOrg, id)
	if err != nil {
		t.Fatal(err)
	}
	if w.Status != modelgate.StatusOnline {
		t.Fatalf("workspace is %s %q: %s", w.Status, w.StatusCode, w.StatusMessage)
	}
}

func TestProvisionerCommand_RefusesAMissingOrIncompleteDriver(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		args []string
		want string
	}{
		"no driver":           {nil, "--driver"},
		"unknown driver":      {[]string{"--driver", "docker"}, `unknown driver "docker"`},
		"exec without cmd":    {[]string{"--driver", "exec"}, "--exec-command"},
		"webhook without url": {[]string{"--driver", "webhook", "--webhook-secret", "s"}, "--webhook-url"},
		"webhook unsigned":    {[]string{"--driver", "webhook", "--webhook-url", "https://example.com/hook"}, "--webhook-secret"},
		"zero attempts":       {[]string{"--driver", "exec", "--exec-command", "true", "--max-attempts", "0"}, "--max-attempts"},
	}
	for name, c := range cases {
		args := append([]string{"provisioner", "--once", "--data-dir", t.TempDir()}, c.args...)
		code, _, stderr := runCLI(args...)
		if code != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit 1 naming %s", name, code, stderr, c.want)
		}
	}
}
