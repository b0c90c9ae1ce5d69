package main_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStdio_MalformedJSONRPCKeepsTheSessionAlive sends garbage between valid
// requests: each bad line gets a JSON-RPC error (or is ignored when it has
// no id), and the process keeps answering.
func TestStdio_MalformedJSONRPCKeepsTheSessionAlive(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(binary)
	cmd.Env = append(os.Environ(), "MODELGATE_DATA_DIR="+t.TempDir(), "MODELGATE_LOG_LEVEL=error")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := make(chan string, 64)
	go func() {
		r := bufio.NewReader(stdout)
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				close(lines)
				return
			}
			lines <- l
		}
	}()
	next := func() map[string]any {
		t.Helper()
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("the server closed stdout")
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(l), &m); err != nil {
				t.Fatalf("not JSON: %q", l)
			}
			return m
		case <-time.After(10 * time.Second):
			t.Fatal("no answer within 10s")
		}
		return nil
	}
	send := func(s string) { io.WriteString(stdin, s+"\n") }

	send(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`)
	if m := next(); m["result"] == nil {
		t.Fatalf("initialize: %v", m)
	}
	send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	for _, bad := range []string{
		`{not json`,
		`[]`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":"nope"}`,
		`{"jsonrpc":"2.0","id":3,"method":"no/such/method"}`,
		`{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"list_offered_models","arguments":[1,2]}}`,
		strings.Repeat("x", 200_000),
	} {
		send(bad)
		m := next()
		if m["error"] == nil && m["result"] == nil {
			t.Fatalf("%.40q: answer %v", bad, m)
		}
		if r, ok := m["result"].(map[string]any); ok && r["isError"] != true {
			t.Fatalf("%.40q: a bad call succeeded: %v", bad, m)
		}
	}
	send(`{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"list_offered_models","arguments":{"runtime":"codex"}}}`)
	m := next()
	if r, ok := m["result"].(map[string]any); !ok || r["isError"] == true {
		t.Fatalf("after the garbage, a valid call failed: %v", m)
	}
}

// TestStdio_SIGTERMIsACleanStop: the stdio server exits 0 on SIGTERM.
func TestStdio_SIGTERMIsACleanStop(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(binary)
	cmd.Env = append(os.Environ(), "MODELGATE_DATA_DIR="+t.TempDir(), "MODELGATE_LOG_LEVEL=info")
	stdin, _ := cmd.StdinPipe()
	defer stdin.Close()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Once initialize is answered the server is serving.
	io.WriteString(stdin, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`+"\n")
	if _, err := bufio.NewReader(stdout).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v, want status 0", err)
	}
}

// TestStdio_EndOfInputFinishesTheCallsInFlight: a client that writes its
// calls and closes stdin (`printf … | mcp-server`) gets every answer, not
// INTERNAL "context canceled", and the process exits 0. Several calls are
// in flight at the end of input; each makes the full provisioning write.
func TestStdio_EndOfInputFinishesTheCallsInFlight(t *testing.T) {
	t.Parallel()
	const calls = 8
	var in strings.Builder
	in.WriteString(`{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}` + "\n")
	in.WriteString(`{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n")
	for i := range calls {
		fmt.Fprintf(&in, `{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"provision_workspace","arguments":{"name":"w%d","model":"moonshot/kimi-k2.6"}}}`+"\n", i, i)
	}
	cmd := exec.Command(binary)
	cmd.Env = append(os.Environ(), "MODELGATE_DATA_DIR="+t.TempDir(), "MODELGATE_LOG_LEVEL=error")
	cmd.Stdin = strings.NewReader(in.String())
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("mcp-server at the end of input: %v, want exit 0\nstderr: %s", err, stderr.String())
	}
	answered := map[float64]bool{}
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var m struct {
			ID     any `json:"id"`
			Result *struct {
				IsError bool `json:"isError"`
			} `json:"result"`
		}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %q", line)
		}
		id, ok := m.ID.(float64)
		if !ok {
			continue // the initialize answer
		}
		if m.Result == nil || m.Result.IsError {
			t.Errorf("call %v answered %s, want a workspace", id, line)
		}
		answered[id] = true
	}
	if len(answered) != calls {
		t.Errorf("%d of %d calls answered; stdout:\n%s\nstderr: %s", len(answered), calls, stdout.String(), stderr.String())
	}
}
