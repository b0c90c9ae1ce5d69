package main_test

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	_ "modernc.org/sqlite"
)

// run runs the binary to completion and returns its stdout, stderr and error.
func run(t *testing.T, env []string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// watchedBuffer collects a server's stderr and tells waiters when it grows.
type watchedBuffer struct {
	mu     sync.Mutex
	b      strings.Builder
	change chan struct{} // closed (and replaced) on every write
	// copied is closed once the process's stderr is read to its end.
	copied chan struct{}
}

// wait returns cmd.Wait() once stderr has been read to its end: Wait closes
// the pipe, and lines not yet copied (the last log lines) would be lost.
func (w *watchedBuffer) wait(t *testing.T, cmd *exec.Cmd) error {
	t.Helper()
	select {
	case <-w.copied:
	case <-time.After(30 * time.Second):
		t.Errorf("stderr not closed 30 s after the process was told to stop")
	}
	return cmd.Wait()
}

func (w *watchedBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.change != nil {
		close(w.change)
		w.change = nil
	}
	return w.b.Write(p)
}

func (w *watchedBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// changed returns a channel closed by the next write.
func (w *watchedBuffer) changed() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.change == nil {
		w.change = make(chan struct{})
	}
	return w.change
}

// startNetwork starts `mcp-server serve` with args and returns the process,
// the base URL it listens on and its stderr.
func startNetwork(t *testing.T, env []string, args ...string) (*exec.Cmd, string, *watchedBuffer) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	stderr := &watchedBuffer{copied: make(chan struct{})}
	addr := regexp.MustCompile(`"addr":"([0-9.]+:[0-9]+)"`)
	lines := bufio.NewReader(pipe)
	for {
		line, err := lines.ReadString('\n')
		stderr.Write([]byte(line))
		if m := addr.FindStringSubmatch(line); m != nil {
			go func() {
				defer close(stderr.copied)
				io.Copy(stderr, lines)
			}()
			return cmd, "http://" + m[1], stderr
		}
		if err != nil {
			t.Fatalf("the server did not start: %v\n%s", err, stderr)
		}
	}
}

func rawPing(t *testing.T, url, token string) int {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url+"/mcp", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestNetwork_TokenLifecycleAndGracefulExit is the operator's journey:
// create a token, serve streamable HTTP, use it, list it, revoke it from
// another process (refused with the next request), then SIGTERM: exit 0.
func TestNetwork_TokenLifecycleAndGracefulExit(t *testing.T) {
	t.Parallel()
	env := []string{"MODELGATE_DATA_DIR=" + t.TempDir(), "MODELGATE_SECRETS_KEY=" + testKey}
	token, created, err := run(t, env, "token", "create", "--org", "acme", "--name", "ci")
	token = strings.TrimSpace(token)
	if err != nil || !strings.HasPrefix(token, "mg_") || strings.Count(token, "\n") != 0 {
		t.Fatalf("token create: %v %q %s", err, token, created)
	}
	prefix := token[3:15]
	if strings.Contains(created, token) {
		t.Fatal("token create repeats the token on stderr")
	}

	cmd, url, stderr := startNetwork(t, env, "--transport", "http")
	if got := rawPing(t, url, ""); got != http.StatusUnauthorized {
		t.Fatalf("no token: %d, want 401", got)
	}
	c := httpClient(t, url, token, stderr)
	lifecycle(t, c)

	list, _, err := run(t, env, "token", "list", "--org", "acme", "--json")
	var listed struct{ Tokens []map[string]any }
	json.Unmarshal([]byte(list), &listed)
	if err != nil || len(listed.Tokens) != 1 || listed.Tokens[0]["prefix"] != prefix || listed.Tokens[0]["last_used"] == nil || strings.Contains(list, token) {
		t.Fatalf("token list: %v %s", err, list)
	}
	if out, _, err := run(t, env, "token", "revoke", prefix); err != nil || !strings.Contains(out, prefix) {
		t.Fatalf("token revoke: %v %s", err, out)
	}
	// The command is another process: the server caches verified tokens
	// and hears of the revocation within a second (docs/network.md). The
	// bound polled here is generous; the timing is not what is tested.
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		got := rawPing(t, url, token)
		if got == http.StatusUnauthorized {
			break
		}
		if got != http.StatusOK || time.Since(start) > 10*time.Second {
			t.Fatalf("revoked token: %d after %s, want 401 within a second", got, time.Since(start))
		}
	}

	cmd.Process.Signal(syscall.SIGTERM)
	if err := stderr.wait(t, cmd); err != nil {
		t.Fatalf("exit after SIGTERM: %v, want status 0\n%s", err, stderr)
	}
	if !strings.Contains(stderr.String(), "shut down cleanly") || strings.Contains(stderr.String(), token[16:]) || strings.Contains(stderr.String(), canary) {
		t.Fatalf("stderr: %s", stderr)
	}
}

func TestNetwork_AllowNoAuthIsRefusedOffLoopback(t *testing.T) {
	t.Parallel()
	env := []string{"MODELGATE_DATA_DIR=" + t.TempDir()}
	for _, addr := range []string{"0.0.0.0:0", ":0"} {
		_, stderr, err := run(t, env, "serve", "--transport", "http", "--addr", addr, "--allow-no-auth")
		if err == nil || !strings.Contains(stderr, "--allow-no-auth") {
			t.Errorf("--addr %s --allow-no-auth: %v %s, want a refusal", addr, err, stderr)
		}
	}
}

func TestNetwork_AllowNoAuthOnLoopbackActsForTheOrg(t *testing.T) {
	t.Parallel()
	env := []string{"MODELGATE_DATA_DIR=" + t.TempDir()}
	cmd, url, stderr := startNetwork(t, env, "--transport", "http", "--allow-no-auth", "--org", "local")
	if got := rawPing(t, url, ""); got != http.StatusOK {
		t.Fatalf("no token with --allow-no-auth: %d, want 200\n%s", got, stderr)
	}
	if got := rawPing(t, url, "mg_aaaaaaaaaaaa_"+strings.Repeat("A", 43)); got != http.StatusUnauthorized {
		t.Fatalf("a bad token with --allow-no-auth: %d, want 401", got)
	}
	cmd.Process.Signal(syscall.SIGINT)
	if err := stderr.wait(t, cmd); err != nil {
		t.Fatalf("exit after SIGINT: %v\n%s", err, stderr)
	}
}

func TestNetwork_SSETransportServesSSEEndpoints(t *testing.T) {
	t.Parallel()
	env := []string{"MODELGATE_DATA_DIR=" + t.TempDir()}
	token, _, err := run(t, env, "token", "create", "--org", "acme", "--read-only")
	if err != nil {
		t.Fatal(err)
	}
	cmd, url, stderr := startNetwork(t, env, "--transport", "sse")
	tr, err := transport.NewSSE(url+"/sse", transport.WithHeaders(map[string]string{"Authorization": "Bearer " + strings.TrimSpace(token)}))
	if err != nil {
		t.Fatal(err)
	}
	c := client.NewClient(tr, client.WithProtocolVersion(mcp.ProtocolVersion20251125))
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	init := mcp.InitializeRequest{}
	init.Params.ClientInfo = mcp.Implementation{Name: "e2e", Version: "1"}
	if _, err := c.Initialize(t.Context(), init); err != nil {
		t.Fatalf("initialize over SSE: %v\n%s", err, stderr)
	}
	list, err := c.ListTools(t.Context(), mcp.ListToolsRequest{})
	if err != nil || len(list.Tools) != 4 {
		t.Fatalf("read-only token over SSE lists %d tools (%v), want the 4 read-only ones", len(list.Tools), err)
	}
	// The stream stays open: SIGTERM must still end the process promptly and cleanly.
	cmd.Process.Signal(syscall.SIGTERM)
	if err := stderr.wait(t, cmd); err != nil {
		t.Fatalf("exit after SIGTERM with an open SSE stream: %v\n%s", err, stderr)
	}
	c.Close()
}

// httpClient returns an initialized streamable HTTP client (protocol
// 2025-11-25) of the server at url, sending token; it is closed with t.
func httpClient(t *testing.T, url, token string, stderr *watchedBuffer) *client.Client {
	t.Helper()
	tr, err := transport.NewStreamableHTTP(url+"/mcp", transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token}))
	if err != nil {
		t.Fatal(err)
	}
	c := client.NewClient(tr, client.WithProtocolVersion(mcp.ProtocolVersion20251125))
	t.Cleanup(func() { c.Close() })
	init := mcp.InitializeRequest{}
	init.Params.ClientInfo = mcp.Implementation{Name: "e2e", Version: "1"}
	if _, err := c.Initialize(t.Context(), init); err != nil {
		t.Fatalf("initialize: %v\n%s", err, stderr)
	}
	return c
}

// TestNetwork_CallInFlightAtSIGTERMCompletesThenExitZero holds the embedded
// store's write lock from the test, so a provision call stops in its audit
// write; SIGTERM arrives while it waits; the lock is released; the call must
// still answer and its audit row be written before the process exits 0.
func TestNetwork_CallInFlightAtSIGTERMCompletesThenExitZero(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := []string{"MODELGATE_DATA_DIR=" + dir}
	token, _, err := run(t, env, "token", "create", "--org", "acme")
	if err != nil {
		t.Fatal(err)
	}
	token = strings.TrimSpace(token)
	cmd, url, stderr := startNetwork(t, env, "--transport", "http", "--shutdown-timeout", "30s")
	c := httpClient(t, url, token, stderr)
	call(t, c, "list_workspaces", map[string]any{}) // records the token's use now, not under the lock

	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "modelgate.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	lock, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	answered := make(chan error, 1)
	go func() {
		req := mcp.CallToolRequest{}
		req.Params.Name = "provision_workspace"
		req.Params.Arguments = map[string]any{"name": "late", "model": "no-such-model"}
		res, err := c.CallTool(context.Background(), req)
		if err == nil && !strings.Contains(res.Content[0].(mcp.TextContent).Text, "UNREGISTERED_MODEL_FOR_RUNTIME") {
			err = fmt.Errorf("unexpected answer %v", res.Content)
		}
		answered <- err
	}()
	// The gate's decision is logged before its audit row is written, which
	// waits for the lock: from then on the call is in flight.
	for {
		grew := stderr.changed()
		if strings.Contains(stderr.String(), `"gate decision"`) {
			break
		}
		select {
		case err := <-answered:
			t.Fatalf("the call finished (%v) without waiting for the lock", err)
		case <-grew:
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if _, err := lock.ExecContext(t.Context(), "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	lock.Close()
	if err := <-answered; err != nil {
		t.Fatalf("the call in flight at SIGTERM: %v\n%s", err, stderr)
	}
	if err := stderr.wait(t, cmd); err != nil {
		t.Fatalf("exit after SIGTERM: %v, want 0\n%s", err, stderr)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM audit WHERE model = 'no-such-model'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("audit rows of the in-flight call: %d (%v), want 1", n, err)
	}
}

func TestNetwork_RateLimitRefusesRequestsOverTheBurstWith429(t *testing.T) {
	t.Parallel()
	env := []string{"MODELGATE_DATA_DIR=" + t.TempDir()}
	_, url, _ := startNetwork(t, env, "--transport", "http", "--allow-no-auth", "--rate-limit", "0.01", "--burst", "2")
	var got []string
	for range 3 {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url+"/mcp", strings.NewReader(
			`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_workspaces","arguments":{}}}`))
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		s := fmt.Sprint(res.StatusCode)
		if res.StatusCode == http.StatusOK && strings.Contains(string(body), `isError":true`) {
			s += " isError"
		}
		if ra := res.Header.Get("Retry-After"); ra != "" {
			s += " Retry-After"
		}
		got = append(got, s)
	}
	if strings.Join(got, ",") != "200,200,429 Retry-After" {
		t.Fatalf("three tool calls with a burst of 2: %v, want 200,200,429 Retry-After", got)
	}
}

// TestNetwork_ProvisionerOutlivesTheCallsInFlightAtSIGTERM: a call waiting
// for its workspace (wait_seconds) is in flight when SIGTERM arrives while
// the driver is starting the workspace. The built-in provisioner stops only
// after the calls in flight (docs/network.md), so the driver finishes, the
// call answers online and the process exits 0.
func TestNetwork_ProvisionerOutlivesTheCallsInFlightAtSIGTERM(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	marker := filepath.Join(dir, "driver-started")
	env := []string{"MODELGATE_DATA_DIR=" + dir}
	token, _, err := run(t, env, "token", "create", "--org", "acme")
	if err != nil {
		t.Fatal(err)
	}
	token = strings.TrimSpace(token)
	cmd, url, stderr := startNetwork(t, env, "--transport", "http", "--shutdown-timeout", "30s",
		"--driver", "exec", "--exec-command", "touch "+marker+"; sleep 2")
	c := httpClient(t, url, token, stderr)
	answered := make(chan string, 1)
	go func() {
		req := mcp.CallToolRequest{}
		req.Params.Name = "provision_workspace"
		req.Params.Arguments = map[string]any{"name": "w", "model": "moonshot/kimi-k2.6", "wait_seconds": 30}
		res, err := c.CallTool(context.Background(), req)
		switch {
		case err != nil:
			answered <- err.Error()
		case len(res.Content) == 0:
			answered <- "no content"
		default:
			answered <- res.Content[0].(mcp.TextContent).Text
		}
	}()
	for {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		select {
		case got := <-answered:
			t.Fatalf("the call answered before the driver started: %s", got)
		case <-time.After(20 * time.Millisecond):
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if got := <-answered; !strings.Contains(got, `"status":"online"`) {
		t.Fatalf("the call waiting at SIGTERM answered %s, want the workspace online\n%s", got, stderr)
	}
	if err := stderr.wait(t, cmd); err != nil {
		t.Fatalf("exit after SIGTERM: %v, want 0\n%s", err, stderr)
	}
}
