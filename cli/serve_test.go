package cli

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	stdioInit = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}` + "\n"
	stdioList = `{"jsonrpc":"2.0","id":2,"method":"tools/list"}` + "\n"
	stdioCall = `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"list_offered_models","arguments":{"runtime":"codex"}}}` + "\n"
)

// stdioSession runs the stdio server on the embedded store in dir (plus
// args) and returns a function that sends one request and returns its
// answer line, and one that closes stdin and returns the exit code and
// stderr.
func stdioSession(t *testing.T, dir string, args ...string) (ask func(req string) string, end func() (int, string)) {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	var stderr bytes.Buffer
	code := make(chan int, 1)
	env := map[string]string{"MODELGATE_DATA_DIR": dir}
	go func() {
		code <- Main(Env{Args: args, Stdin: inR, Stdout: outW, Stderr: &stderr, Getenv: func(k string) string { return env[k] }})
		outW.Close()
	}()
	lines := bufio.NewReader(outR)
	ask = func(req string) string {
		t.Helper()
		if _, err := io.WriteString(inW, req); err != nil {
			t.Fatalf("write %s: %v", req, err)
		}
		line, err := lines.ReadString('\n')
		if err != nil {
			t.Fatalf("no answer to %s: %v", req, err)
		}
		return line
	}
	end = func() (int, string) {
		inW.Close()
		go io.Copy(io.Discard, lines)
		return <-code, stderr.String()
	}
	return ask, end
}

// TestServeStdio_RequestsAfterInitializeWaitForTheStore: the store opens
// after the initialize answer (TestServeStdio_StoreThatCannotOpen… shows that
// answer does not need it), and the requests that need it wait for it.
func TestServeStdio_RequestsAfterInitializeWaitForTheStore(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		reqs []string
		want []string
	}{
		{"initialize first", []string{stdioInit, stdioList, stdioCall},
			[]string{`"id":1,"result":{`, `"id":2,"result":{"tools":[`, `"id":3,"result":{"content"`}},
		{"tools first", []string{stdioList, stdioCall}, []string{`"id":2,"result":{"tools":[`, `"id":3,"result":{"content"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "data")
			ask, end := stdioSession(t, dir)
			for i, req := range tt.reqs {
				if got := ask(req); !strings.Contains(got, tt.want[i]) || strings.Contains(got, `"isError":true`) {
					t.Errorf("answer = %.300s, want %s", got, tt.want[i])
				}
			}
			if code, stderr := end(); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if _, err := os.Stat(filepath.Join(dir, "modelgate.db")); err != nil {
				t.Errorf("the store was not opened: %v", err)
			}
		})
	}
}

// TestServeStdio_StoreThatCannotOpenFailsTheWaitingRequestsAndTheProcess:
// initialize is answered before the store opens, so a store that cannot
// open (the data dir is a file) still lets it be answered; then the
// requests that wait for the store fail without telling the client why, and
// the command fails with the reason on stderr.
func TestServeStdio_StoreThatCannotOpenFailsTheWaitingRequestsAndTheProcess(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	ask, end := stdioSession(t, file)
	if got := ask(stdioInit); !strings.Contains(got, `"id":1,"result":{`) {
		t.Fatalf("initialize: %s", got)
	}
	if got := ask(stdioList); !strings.Contains(got, `"id":2,"error"`) || strings.Contains(got, "not-a-dir") {
		t.Errorf("tools/list: %s; want an error that does not say why", got)
	}
	if code, stderr := end(); code != 1 || !strings.Contains(stderr, "not-a-dir") {
		t.Fatalf("exit %d, stderr %s; want 1 and the reason", code, stderr)
	}
}

// TestServeStdio_BrokenCatalogIsRefusedBeforeServing: a catalog given by
// flag is loaded before the first answer, so a broken one is refused with
// nothing written to stdout.
func TestServeStdio_BrokenCatalogIsRefusedBeforeServing(t *testing.T) {
	t.Parallel()
	broken := filepath.Join(t.TempDir(), "broken.yaml")
	if err := os.WriteFile(broken, []byte("runtimes: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runIn(t, t.TempDir(), stdioInit, "--catalog", broken)
	if code != 1 || stdout != "" || !strings.Contains(stderr, "broken.yaml") {
		t.Fatalf("exit %d, stdout %q, stderr %s; want 1, nothing, the file named", code, stdout, stderr)
	}
}
