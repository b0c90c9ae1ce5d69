package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/internal/storecore"
)

// ClaimWorkspaces leases to owner, until now+lease, up to limit workspaces
// that are provisioning and either not leased or whose lease has expired,
// oldest first, and returns them oldest first. It selects and leases in one
// write transaction, and write transactions are serialized, so concurrent
// claimers never get the same row. It returns EInvalidArgument for an empty
// owner or a limit below 1, and a wrapped error if the database fails.
func (db *DB) ClaimWorkspaces(ctx context.Context, owner string, lease time.Duration, limit int) ([]*modelgate.Workspace, error) {
	if owner == "" || limit < 1 {
		return nil, modelgate.Errorf(modelgate.EInvalidArgument, "claim needs an owner and a limit of at least 1")
	}
	at := storecore.Now()
	tx, err := db.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("claim workspaces: %w", err)
	}
	defer tx.Rollback()

	ids, err := claimable(ctx, tx, at, limit)
	if err != nil {
		return nil, fmt.Errorf("claim workspaces: %w", err)
	}
	ws := make([]*modelgate.Workspace, 0, len(ids))
	for _, k := range ids {
		w, err := scanWorkspace(tx.QueryRowContext(ctx, `UPDATE workspaces SET lease_owner = ?, lease_expires_at = ?
			WHERE org = ? AND id = ? RETURNING `+workspaceCols, owner, ts(at.Add(lease)), k.org, k.id))
		if err != nil {
			return nil, fmt.Errorf("claim workspaces: %w", err)
		}
		ws = append(ws, w)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("claim workspaces: %w", err)
	}
	return ws, nil
}

type workspaceKey struct{ org, id string }

// claimable returns the keys of up to limit claimable workspaces, oldest
// first.
func claimable(ctx context.Context, tx *sql.Tx, at time.Time, limit int) ([]workspaceKey, error) {
	rows, err := tx.QueryContext(ctx, `SELECT org, id FROM workspaces
		WHERE status = 'provisioning' AND (lease_expires_at IS NULL OR lease_expires_at <= ?)
		ORDER BY created_at, id LIMIT ?`, ts(at), limit)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r *sql.Rows) (workspaceKey, error) {
		var k workspaceKey
		err := r.Scan(&k.org, &k.id)
		return k, err
	})
}

// FinishWorkspace moves the workspace w, leased by owner, from provisioning
// to status (online or failed) with code and message, stores w's Provider,
// PlatformBilled and CredentialScope, clears the lease and records the
// change, in one transaction. On success it sets *w to the
// stored row. A lease that has expired is still owner's until another
// provisioner claims the row. It returns EInvalidArgument for another
// status, ENotFound if the workspace is not provisioning under owner's
// lease (another claimer took it, or it was removed or expired), and a
// wrapped error if the database fails.
func (db *DB) FinishWorkspace(ctx context.Context, owner string, w *modelgate.Workspace, status, code, message string) error {
	if status != modelgate.StatusOnline && status != modelgate.StatusFailed {
		return modelgate.Errorf(modelgate.EInvalidArgument, "a workspace finishes online or failed, not %q", status)
	}
	if w == nil {
		return modelgate.Errorf(modelgate.EInvalidArgument, "no workspace to finish")
	}
	id, ok := storecore.ParseID(w.ID)
	if !ok {
		return storecore.WorkspaceNotFound(w.ID)
	}
	tx, err := db.begin(ctx)
	if err != nil {
		return fmt.Errorf("finish workspace: %w", err)
	}
	defer tx.Rollback()

	at := storecore.Now()
	updated, err := scanWorkspace(tx.QueryRowContext(ctx, `UPDATE workspaces
		SET status = ?, status_code = ?, status_message = ?, provider = ?, platform_billed = ?, credential_scope = ?,
			lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
		WHERE org = ? AND id = ? AND status = 'provisioning' AND lease_owner = ?
		RETURNING `+workspaceCols, status, code, message, w.Provider, w.PlatformBilled, w.CredentialScope, ts(at), w.Org, id, owner))
	if errors.Is(err, sql.ErrNoRows) {
		return storecore.NotLeased(w.ID, owner)
	}
	if err != nil {
		return fmt.Errorf("finish workspace: %w", err)
	}
	if err := insertEvent(ctx, tx, w.Org, id, modelgate.StatusProvisioning, status, code, at); err != nil {
		return fmt.Errorf("finish workspace: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("finish workspace: %w", err)
	}
	db.signalStatus(updated.ID)
	*w = *updated
	return nil
}

// RecordAttempt increments the attempts of the workspace w while owner
// holds its lease, and sets *w to the stored row. It returns ENotFound as
// FinishWorkspace and a wrapped error if the database fails.
func (db *DB) RecordAttempt(ctx context.Context, owner string, w *modelgate.Workspace) error {
	if w == nil {
		return modelgate.Errorf(modelgate.EInvalidArgument, "no workspace to record an attempt of")
	}
	id, ok := storecore.ParseID(w.ID)
	if !ok {
		return storecore.WorkspaceNotFound(w.ID)
	}
	updated, err := scanWorkspace(db.write.QueryRowContext(ctx, `UPDATE workspaces
		SET attempts = attempts + 1, updated_at = ?
		WHERE org = ? AND id = ? AND status = 'provisioning' AND lease_owner = ?
		RETURNING `+workspaceCols, ts(storecore.Now()), w.Org, id, owner))
	if errors.Is(err, sql.ErrNoRows) {
		return storecore.NotLeased(w.ID, owner)
	}
	if err != nil {
		return fmt.Errorf("record attempt: %w", err)
	}
	*w = *updated
	return nil
}

// HoldWorkspace sets the status message of the workspace w, which stays
// provisioning, while owner holds its lease, and sets *w to the stored row.
// It returns ENotFound as FinishWorkspace and a wrapped error if the
// database fails.
func (db *DB) HoldWorkspace(ctx context.Context, owner string, w *modelgate.Workspace, message string) error {
	if w == nil {
		return modelgate.Errorf(modelgate.EInvalidArgument, "no workspace to hold")
	}
	id, ok := storecore.ParseID(w.ID)
	if !ok {
		return storecore.WorkspaceNotFound(w.ID)
	}
	updated, err := scanWorkspace(db.write.QueryRowContext(ctx, `UPDATE workspaces
		SET status_message = ?, updated_at = ?
		WHERE org = ? AND id = ? AND status = 'provisioning' AND lease_owner = ?
		RETURNING `+workspaceCols, message, ts(storecore.Now()), w.Org, id, owner))
	if errors.Is(err, sql.ErrNoRows) {
		return storecore.NotLeased(w.ID, owner)
	}
	if err != nil {
		return fmt.Errorf("hold workspace: %w", err)
	}
	*w = *updated
	return nil
}

// ExpireProvisioning fails, with status_code PROVISION_TIMEOUT and message,
// every workspace of every org that is still provisioning and was created
// before olderThan, whether leased or not; it clears their leases, records
// the changes, and returns the failed workspaces oldest first, in one
// transaction. It returns a wrapped error if the database fails.
func (db *DB) ExpireProvisioning(ctx context.Context, olderThan time.Time, message string) ([]*modelgate.Workspace, error) {
	tx, err := db.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("expire provisioning: %w", err)
	}
	defer tx.Rollback()

	at := storecore.Now()
	ws, err := collectWorkspaces(tx.QueryContext(ctx, `UPDATE workspaces
		SET status = 'failed', status_code = ?, status_message = ?, lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
		WHERE status = 'provisioning' AND created_at < ? AND status_message = ''
			AND (lease_expires_at IS NULL OR lease_expires_at <= ?)
		RETURNING `+workspaceCols, modelgate.EProvisionTimeout, message, ts(at), ts(olderThan), ts(at)))
	if err != nil {
		return nil, fmt.Errorf("expire provisioning: %w", err)
	}
	for _, w := range ws {
		if err := insertEvent(ctx, tx, w.Org, w.ID, modelgate.StatusProvisioning, modelgate.StatusFailed, modelgate.EProvisionTimeout, at); err != nil {
			return nil, fmt.Errorf("expire provisioning: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("expire provisioning: %w", err)
	}
	for _, w := range ws {
		db.signalStatus(w.ID)
	}
	storecore.SortOldestFirst(ws)
	return ws, nil
}

// StatusChanges returns the status changes of the workspace, oldest first.
// The first is its creation (from "" to provisioning at created_at), which
// the workspace row records itself; the others are the changes recorded in
// workspace_events, in seq order. It returns ENotFound as GetWorkspace and a
// wrapped error if the database fails.
func (db *DB) StatusChanges(ctx context.Context, org, id string) ([]modelgate.StatusChange, error) {
	uid, ok := storecore.ParseID(id)
	if !ok {
		return nil, storecore.WorkspaceNotFound(id)
	}
	// Schema version 1 also recorded the creation, as the only event from
	// ''; skip those rows by what they say rather than by their seq: a
	// version-1 server still running during an upgrade numbers the first
	// change of a newer workspace 1.
	rows, err := db.read.QueryContext(ctx, `SELECT id, '', ?3, '', created_at, 0 AS seq
		FROM workspaces WHERE org = ?1 AND id = ?2
		UNION ALL
		SELECT workspace_id, from_status, to_status, code, at, seq
		FROM workspace_events WHERE org = ?1 AND workspace_id = ?2 AND from_status <> ''
		ORDER BY seq`, org, uid, modelgate.StatusProvisioning)
	if err != nil {
		return nil, fmt.Errorf("status changes: %w", err)
	}
	changes, err := collect(rows, func(r *sql.Rows) (modelgate.StatusChange, error) {
		var c modelgate.StatusChange
		var seq int
		err := r.Scan(&c.WorkspaceID, &c.From, &c.To, &c.Code, timeCol{&c.At}, &seq)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("status changes: %w", err)
	}
	// The workspace row is always the first: none means no workspace.
	if len(changes) == 0 {
		return nil, storecore.WorkspaceNotFound(id)
	}
	return changes, nil
}

// CountProvisioning returns how many workspaces are provisioning, in every
// org (the workspaces_provisioning partial index).
func (db *DB) CountProvisioning(ctx context.Context) (int, error) {
	var n int
	if err := db.read.QueryRowContext(ctx, `SELECT count(*) FROM workspaces WHERE status = 'provisioning'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count provisioning: %w", err)
	}
	return n, nil
}
