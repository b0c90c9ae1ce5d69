package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/modelgate/modelgate/verify/verifytest"
)

// TestStdio_LiveCredentialChecks runs CONTRACT.md §8 through the real
// binary against fake providers on loopback: a rejected workspace key and a
// rejected org key are refused with INVALID_CREDENTIAL and store nothing; a
// good key creates the workspace; a key revoked afterwards makes a separate
// provisioner process fail the workspace before its driver runs. The key
// never reaches the log.
func TestStdio_LiveCredentialChecks(t *testing.T) {
	t.Parallel()
	anthropic := verifytest.NewLoopback(t, "x-api-key", "")
	groq := verifytest.NewLoopback(t, "Authorization", "Bearer ")
	dir := t.TempDir()
	env := []string{
		"MODELGATE_DATA_DIR=" + dir, "MODELGATE_ORG=e2e", "MODELGATE_LOG_LEVEL=debug",
		"MODELGATE_VERIFY_BASE_URLS=anthropic-api=" + anthropic.URL() + ",groq=" + groq.URL(),
	}
	c, stderr := startStdio(t, env, mcp.ProtocolVersion20251125)

	bad := canary + "-bad"
	refused, isErr := call(t, c, "provision_workspace", map[string]any{"name": "coder", "model": "claude-sonnet-4-6",
		"secrets": map[string]any{"ANTHROPIC_API_KEY": bad}})
	if !isErr || refused["code"] != "INVALID_CREDENTIAL" || refused["provider"] != "anthropic-api" ||
		refused["name"] != "ANTHROPIC_API_KEY" || refused["provider_status"] != float64(401) {
		t.Fatalf("provision with a rejected key = %v", refused)
	}
	refused, isErr = call(t, c, "set_org_secret", map[string]any{"key": "GROQ_API_KEY", "value": bad})
	if !isErr || refused["code"] != "INVALID_CREDENTIAL" || refused["provider"] != "groq" {
		t.Fatalf("set_org_secret with a rejected key = %v", refused)
	}
	if list, _ := call(t, c, "list_org_secrets", map[string]any{}); len(list["secrets"].([]any)) != 0 {
		t.Fatalf("a rejected org key was stored: %v", list)
	}
	if list, _ := call(t, c, "list_workspaces", map[string]any{}); len(list["workspaces"].([]any)) != 0 {
		t.Fatalf("a rejected key created a workspace: %v", list)
	}

	anthropic.Accept(canary)
	created, isErr := call(t, c, "provision_workspace", map[string]any{"name": "coder", "model": "claude-sonnet-4-6",
		"secrets": map[string]any{"ANTHROPIC_API_KEY": canary}})
	if isErr || created["status"] != "provisioning" {
		t.Fatalf("provision with a good key = %v", created)
	}
	id := created["id"].(string)

	// The key is revoked before any provisioner ran; a provisioner process
	// that re-checks every key (max age 1ns) fails the workspace and never
	// runs its driver.
	anthropic.Revoke(canary)
	marker := filepath.Join(dir, "driver-ran")
	prov := exec.Command(binary, "provisioner", "--once", "--driver", "exec", "--exec-command", "touch "+marker)
	prov.Env = append(os.Environ(), append(env, "MODELGATE_VERIFY_MAX_AGE=1ns")...)
	out, err := prov.CombinedOutput()
	if err != nil {
		t.Fatalf("provisioner --once: %v\n%s", err, out)
	}
	got, _ := call(t, c, "get_workspace", map[string]any{"id": id})
	if got["status"] != "failed" || got["status_code"] != "INVALID_CREDENTIAL" ||
		!strings.Contains(got["status_message"].(string), "ANTHROPIC_API_KEY") || !strings.Contains(got["status_message"].(string), "anthropic-api") {
		t.Fatalf("workspace after the re-check = %v", got)
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Errorf("the driver ran for a workspace whose key the provider rejected")
	}
	if n := len(anthropic.Requests()); n != 3 {
		t.Errorf("anthropic saw %d checks, want 3 (rejected, accepted, re-checked)", n)
	}
	if strings.Contains(stderr.String()+string(out), canary) {
		t.Fatal("the key reached the log")
	}
}

// With --verify-credentials=off the binary sends nothing anywhere: a key
// the fake provider would reject is stored and provisions.
func TestStdio_VerifyCredentialsOffSendsNothing(t *testing.T) {
	t.Parallel()
	groq := verifytest.NewLoopback(t, "Authorization", "Bearer ")
	c, _ := startStdio(t, []string{"MODELGATE_DATA_DIR=" + t.TempDir(), "MODELGATE_VERIFY_CREDENTIALS=off",
		"MODELGATE_VERIFY_BASE_URLS=groq=" + groq.URL()}, mcp.ProtocolVersion20251125)
	if res, isErr := call(t, c, "set_org_secret", map[string]any{"key": "GROQ_API_KEY", "value": canary}); isErr {
		t.Fatalf("set_org_secret with checks off = %v", res)
	}
	if n := len(groq.Requests()); n != 0 {
		t.Errorf("the provider saw %d requests with checks off, want none", n)
	}
}
