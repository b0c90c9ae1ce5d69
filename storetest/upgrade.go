package storetest

import (
	"testing"

	"github.com/modelgate/modelgate"
)

// Version1SQL puts a database of schema version 2 back the way version 1
// left it: every workspace's creation recorded as event seq 1 and no
// version 2 in schema_migrations. It is the same in both SQL dialects;
// the stores' upgrade tests run it, then migrate again.
const Version1SQL = `INSERT INTO workspace_events (org, workspace_id, seq, from_status, to_status, code, at)
	SELECT org, id, 1, '', 'provisioning', '', created_at FROM workspaces;
DELETE FROM schema_migrations WHERE version = 2`

// RemovedWorkspace creates the workspace "w" of org "acme" in s, removes it,
// and returns its id and its status history (the creation and the removal).
func RemovedWorkspace(t *testing.T, s modelgate.Store) (string, []modelgate.StatusChange) {
	t.Helper()
	ctx := t.Context()
	w, _, err := s.CreateWorkspace(ctx, modelgate.NewWorkspace{Workspace: modelgate.Workspace{Org: "acme", Name: "w", Tier: 1}})
	if err != nil {
		t.Fatalf("CreateWorkspace: %v", err)
	}
	if _, err := s.DeprovisionWorkspace(ctx, "acme", w.ID, "w"); err != nil {
		t.Fatalf("DeprovisionWorkspace: %v", err)
	}
	changes, err := s.StatusChanges(ctx, "acme", w.ID)
	if err != nil || len(changes) != 2 {
		t.Fatalf("StatusChanges = %v, %v; want the creation and the removal", changes, err)
	}
	return w.ID, changes
}
