package tools_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/gate"
	"github.com/modelgate/modelgate/provisioner"
	"github.com/modelgate/modelgate/registry"
	"github.com/rs/zerolog"
)

// startProvisioner runs a provisioner with the exec driver running command
// on b's store until the test ends.
func startProvisioner(t *testing.T, b testBundle, command string) {
	t.Helper()
	driver, err := provisioner.NewExecDriver(command)
	if err != nil {
		t.Fatal(err)
	}
	p, err := provisioner.New(provisioner.Options{
		Store: b.store, Gate: gate.New(registry.Default(), zerolog.Nop()), Keys: b.keys, Driver: driver,
		MaxAttempts: 1, Wake: b.store.ListenProvision, Log: zerolog.Nop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// TestProvisionWorkspace_WaitSecondsReturnsTheFinalStatus: with a
// provisioner running, wait_seconds returns online (driver succeeds) or
// failed with DRIVER_FAILED (driver fails), not provisioning.
func TestProvisionWorkspace_WaitSecondsReturnsTheFinalStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ command, status, code string }{
		{"true", modelgate.StatusOnline, ""},
		{"echo no capacity >&2; exit 3", modelgate.StatusFailed, modelgate.EDriverFailed},
	} {
		t.Run(tc.status, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{protocol: mcp.ProtocolVersion20251125})
			startProvisioner(t, b, tc.command)
			got := b.mustCall(t, "provision_workspace", map[string]any{"name": "w", "model": "moonshot/kimi-k2.6", "wait_seconds": 30})
			if got["status"] != tc.status || (tc.code != "" && got["status_code"] != tc.code) {
				t.Fatalf("wait_seconds result = %v, want status %s code %q", got, tc.status, tc.code)
			}
		})
	}
}

// TestProvisionWorkspace_WaitSecondsTimesOutAndSendsProgress: with no
// provisioner, the call returns provisioning after wait_seconds (even when
// that is longer than the call timeout), having sent progress notifications
// for the client's progress token.
func TestProvisionWorkspace_WaitSecondsTimesOutAndSendsProgress(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{protocol: mcp.ProtocolVersion20251125, callTimeout: 500 * time.Millisecond})
	var mu sync.Mutex
	var progress []mcp.JSONRPCNotification
	b.client.OnNotification(func(n mcp.JSONRPCNotification) {
		if n.Method == "notifications/progress" {
			mu.Lock()
			progress = append(progress, n)
			mu.Unlock()
		}
	})
	req := mcp.CallToolRequest{}
	req.Params.Name = "provision_workspace"
	req.Params.Arguments = map[string]any{"name": "w", "model": "moonshot/kimi-k2.6", "wait_seconds": 2}
	req.Params.Meta = &mcp.Meta{ProgressToken: "tok-1"}
	start := time.Now()
	res, err := b.client.CallTool(b.ctx, req)
	if err != nil || res.IsError {
		t.Fatalf("provision: %v %v", err, res)
	}
	// At least wait_seconds is the rule; how much longer a loaded machine
	// takes is not.
	if waited := time.Since(start); waited < 2*time.Second {
		t.Fatalf("waited %v, want at least wait_seconds (2s)", waited)
	}
	text, _ := mcp.AsTextContent(res.Content[0])
	if !strings.Contains(text.Text, `"status":"provisioning"`) || !strings.Contains(text.Text, "waiting for a provisioner") {
		t.Fatalf("result = %s, want provisioning and a message saying it waits", text.Text)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(progress) == 0 {
		t.Fatal("no progress notification while waiting")
	}
	if tok := progress[0].Params.AdditionalFields["progressToken"]; tok != "tok-1" {
		t.Fatalf("progress token = %v, want tok-1", tok)
	}
	b.mustFail(t, "provision_workspace", map[string]any{"name": "x", "model": "moonshot/kimi-k2.6", "wait_seconds": 121}, modelgate.EInvalidArgument)
}
