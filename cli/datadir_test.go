package cli

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelgate/modelgate/secrets"
)

// With the key in the environment no key file is written, and the data
// directory used to be created only by the key file: the embedded store
// then failed with "unable to open database file".
func TestCLI_KeyInTheEnvironmentAndNoDataDirectoryCreatesAPrivateOne(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "missing", "modelgate")
	env := map[string]string{
		"MODELGATE_DATA_DIR":    dir,
		"MODELGATE_SECRETS_KEY": base64.StdEncoding.EncodeToString(secrets.GenerateKey()),
	}
	var stdout, stderr bytes.Buffer
	code := Main(Env{Args: []string{"secret", "set", "ANTHROPIC_API_KEY", "--org", "acme"},
		Stdin: strings.NewReader(cliCanary + "\n"), Stdout: &stdout, Stderr: &stderr,
		Getenv: func(k string) string { return env[k] }})
	if code != 0 {
		t.Fatalf("secret set with the key in the environment and no data dir: %d %q %q", code, stdout.String(), stderr.String())
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatalf("data dir: %v", err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("data dir has mode %04o, want 0700", perm)
	}
	if _, err := os.Stat(filepath.Join(dir, secrets.KeyFileName)); !os.IsNotExist(err) {
		t.Errorf("a key file was written although the key is in the environment: %v", err)
	}
	db := filepath.Join(dir, "modelgate.db")
	for _, p := range []string{db, db + "-wal", db + "-shm"} {
		fi, err := os.Stat(p)
		if os.IsNotExist(err) && p != db {
			continue // removed when the last connection closed
		}
		if err != nil {
			t.Fatalf("stat %s: %v", p, err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", filepath.Base(p), perm)
		}
	}
}
