package tools_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/provision"
)

// wantLimitError fails t unless errObj names the limit and what it limits.
func wantLimitError(t *testing.T, errObj map[string]any, limit int, what string) {
	t.Helper()
	if errObj["limit"] != float64(limit) {
		t.Errorf("limit = %v, want %d (%v)", errObj["limit"], limit, errObj)
	}
	if msg, _ := errObj["error"].(string); !strings.Contains(msg, fmt.Sprintf("limit of %d %s", limit, what)) {
		t.Errorf("message %q does not say it is the limit of %d %s", msg, limit, what)
	}
}

func TestTools_ProvisionIsRefusedAtTheOrgsLimitOfLiveWorkspaces(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{protocol: mcp.ProtocolVersion20251125, limits: provision.Limits{Workspaces: 2}})
	provisionArgs := func(name string) map[string]any {
		return map[string]any{"name": name, "model": "moonshot/kimi-k2.6"}
	}
	first := b.mustCall(t, "provision_workspace", provisionArgs("one"))
	b.mustCall(t, "provision_workspace", provisionArgs("two"))

	before := b.counts(t)
	wantLimitError(t, b.mustFail(t, "provision_workspace", provisionArgs("three"), modelgate.EWorkspaceLimit), 2, "live workspaces")
	dry := provisionArgs("three")
	dry["dry_run"] = true
	wantLimitError(t, b.mustFail(t, "provision_workspace", dry, modelgate.EWorkspaceLimit), 2, "live workspaces")
	if diff := cmp.Diff(before, b.counts(t)); diff != "" {
		t.Fatalf("a refused provision wrote rows (-before +after):\n%s", diff)
	}

	// A removed workspace frees its place.
	b.mustCall(t, "deprovision_workspace", map[string]any{"id": first["id"], "confirm_name": "one"})
	b.mustCall(t, "provision_workspace", dry)
	b.mustCall(t, "provision_workspace", provisionArgs("three"))
	b.mustFail(t, "provision_workspace", provisionArgs("four"), modelgate.EWorkspaceLimit)
}

// Two provisions at one place short of the limit: exactly one is created.
func TestTools_ConcurrentProvisionsAtTheLimitCreateOne(t *testing.T) {
	t.Parallel()
	const limit, callers = 3, 8
	b := setup(t, setupOpts{protocol: mcp.ProtocolVersion20251125, limits: provision.Limits{Workspaces: limit}})
	for i := range limit - 1 {
		b.mustCall(t, "provision_workspace", map[string]any{"name": fmt.Sprintf("w%d", i), "model": "moonshot/kimi-k2.6"})
	}
	errs := make([]map[string]any, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			_, errs[i] = b.call(t, "provision_workspace", map[string]any{"name": fmt.Sprintf("call %d", i), "model": "moonshot/kimi-k2.6"})
		})
	}
	wg.Wait()
	created := 0
	for _, e := range errs {
		switch {
		case e == nil:
			created++
		case e["code"] != modelgate.EWorkspaceLimit:
			t.Errorf("provision_workspace: %v", e)
		}
	}
	page := b.mustCall(t, "list_workspaces", map[string]any{})
	if n := len(page["workspaces"].([]any)); created != 1 || n != limit {
		t.Errorf("%d calls created a workspace and %d are listed, want 1 and %d", created, n, limit)
	}
}

func TestTools_SetOrgSecretIsRefusedAtTheLimitButReplacingIsAllowed(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{limits: provision.Limits{OrgSecrets: 2}})
	b.mustCall(t, "set_org_secret", map[string]any{"key": "ANTHROPIC_API_KEY", "value": canary})
	b.mustCall(t, "set_org_secret", map[string]any{"key": "OPENAI_API_KEY", "value": canary})
	before := b.counts(t)
	errObj := b.mustFail(t, "set_org_secret", map[string]any{"key": "GROQ_API_KEY", "value": canary}, modelgate.EWorkspaceLimit)
	wantLimitError(t, errObj, 2, "org secrets")
	if diff := cmp.Diff(before, b.counts(t)); diff != "" {
		t.Fatalf("a refused set_org_secret wrote rows (-before +after):\n%s", diff)
	}
	b.mustCall(t, "set_org_secret", map[string]any{"key": "OPENAI_API_KEY", "value": canary + "-rotated"})
	b.mustCall(t, "delete_org_secret", map[string]any{"key": "ANTHROPIC_API_KEY"})
	b.mustCall(t, "set_org_secret", map[string]any{"key": "GROQ_API_KEY", "value": canary})
	if strings.Contains(fmt.Sprint(errObj), canary) || strings.Contains(b.logs.String(), canary) {
		t.Fatal("the secret value came back in an error or a log")
	}
}

func TestTools_ListOrgSecretsPages(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{protocol: mcp.ProtocolVersion20251125})
	var want []string
	for i := range 7 {
		key := fmt.Sprintf("KEY_%d", i)
		want = append(want, key)
		b.mustCall(t, "set_org_secret", map[string]any{"key": key, "value": canary})
	}
	var got []string
	args := map[string]any{"limit": 3}
	for page := 0; ; page++ {
		if page > 5 {
			t.Fatal("more than 5 pages: the cursor does not advance")
		}
		res := b.mustCall(t, "list_org_secrets", args)
		for _, s := range res["secrets"].([]any) {
			got = append(got, s.(map[string]any)["key"].(string))
		}
		next := res["next_cursor"].(string)
		if next == "" {
			break
		}
		args["cursor"] = next
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("keys over every page of 3 (-want +got):\n%s", diff)
	}
	all := b.mustCall(t, "list_org_secrets", map[string]any{})
	if n := len(all["secrets"].([]any)); n != 7 || all["next_cursor"] != "" {
		t.Errorf("default page = %d secrets, next_cursor %q; want all 7 and none", n, all["next_cursor"])
	}
	for _, bad := range []map[string]any{{"limit": 0}, {"limit": 201}, {"cursor": "not a cursor"}} {
		b.mustFail(t, "list_org_secrets", bad, modelgate.EInvalidArgument)
	}
}
