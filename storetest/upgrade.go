package storetest

import (
	"slices"
	"testing"

	"github.com/modelgate/modelgate"
)

// Version1SQL puts a database of the current schema back the way version 1
// left it: every workspace's creation recorded as event seq 1, migrations
// 3 (credential checks) and 4 (key links) undone, and no version above 1 in
// schema_migrations. It is the same in both SQL dialects; the stores'
// upgrade tests run it, then migrate again. Migration 5 differs between
// the stores (a notifying trigger, a table of versions): each store's test
// undoes it first.
const Version1SQL = `INSERT INTO workspace_events (org, workspace_id, seq, from_status, to_status, code, at)
	SELECT org, id, 1, '', 'provisioning', '', created_at FROM workspaces;
DROP TABLE credential_checks;
ALTER TABLE org_secrets DROP COLUMN checked_at;
ALTER TABLE org_secrets DROP COLUMN rejected_at;
ALTER TABLE workspace_secrets DROP COLUMN checked_at;
ALTER TABLE workspace_secrets DROP COLUMN rejected_at;
DROP TABLE key_links;
ALTER TABLE audit DROP COLUMN event;
ALTER TABLE audit DROP COLUMN key_link;
ALTER TABLE audit DROP COLUMN secret_name;
DELETE FROM schema_migrations WHERE version >= 2`

// Version1ChangeSQL records, as a server of schema version 1 still running
// after the migration would, that the workspace "v1" of org "acme" failed:
// its next seq after the events it finds, which for a workspace created by
// version 2 (no events) is 1.
const Version1ChangeSQL = `INSERT INTO workspace_events (org, workspace_id, seq, from_status, to_status, code, at)
	SELECT w.org, w.id, coalesce((SELECT max(e.seq) FROM workspace_events e
		WHERE e.org = w.org AND e.workspace_id = w.id), 0) + 1, 'provisioning', 'failed', 'DRIVER_FAILED', w.created_at
	FROM workspaces w WHERE w.org = 'acme' AND w.name = 'v1'`

// CheckVersion1Change creates the workspace "v1" of org "acme", lets exec
// run Version1ChangeSQL, and fails t unless s reports both the creation and
// the change a version-1 server recorded.
func CheckVersion1Change(t *testing.T, s modelgate.Store, exec func(sql string) error) {
	t.Helper()
	ctx := t.Context()
	w, _, err := s.CreateWorkspace(ctx, modelgate.NewWorkspace{Workspace: modelgate.Workspace{Org: "acme", Name: "v1", Tier: 1}})
	if err != nil {
		t.Fatalf("CreateWorkspace: %v", err)
	}
	if err := exec(Version1ChangeSQL); err != nil {
		t.Fatal(err)
	}
	changes, err := s.StatusChanges(ctx, "acme", w.ID)
	if err != nil {
		t.Fatalf("StatusChanges: %v", err)
	}
	var got []string
	for _, c := range changes {
		got = append(got, c.From+"→"+c.To)
	}
	if want := []string{"→provisioning", "provisioning→failed"}; !slices.Equal(got, want) {
		t.Errorf("StatusChanges after a version-1 server's write = %q, want %q", got, want)
	}
}

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
