package storetest

import (
	"context"
	"testing"
	"time"
)

// IntegritySQL names every table with a row that refers to a missing org or
// workspace: the invariants that the writing transactions keep instead of
// foreign keys. It is the same in both SQL dialects.
const IntegritySQL = `
SELECT 'workspaces' FROM workspaces x WHERE NOT EXISTS (SELECT 1 FROM orgs o WHERE o.org = x.org)
UNION ALL SELECT 'org_secrets' FROM org_secrets x WHERE NOT EXISTS (SELECT 1 FROM orgs o WHERE o.org = x.org)
UNION ALL SELECT 'tokens' FROM tokens x WHERE NOT EXISTS (SELECT 1 FROM orgs o WHERE o.org = x.org)
UNION ALL SELECT 'workspace_secrets' FROM workspace_secrets x
	WHERE NOT EXISTS (SELECT 1 FROM workspaces w WHERE w.org = x.org AND w.id = x.workspace_id)
UNION ALL SELECT 'workspace_events' FROM workspace_events x
	WHERE NOT EXISTS (SELECT 1 FROM workspaces w WHERE w.org = x.org AND w.id = x.workspace_id)`

// CheckIntegrity fails tb if IntegritySQL finds anything, or if it cannot
// be run. query runs a statement on the store and returns the first column
// of every row. Stores' tests call it at cleanup, while the store is still
// open, so it does not use tb's context, which has ended by then.
func CheckIntegrity(tb testing.TB, query func(ctx context.Context, sql string) ([]string, error)) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	broken, err := query(ctx, IntegritySQL)
	if err != nil {
		tb.Errorf("integrity check: %v", err)
		return
	}
	if len(broken) > 0 {
		tb.Errorf("integrity check: rows that refer to nothing in %v", broken)
	}
}
