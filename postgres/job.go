package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/internal/storecore"
)

// ClaimWorkspaces leases to owner, until now+lease, up to limit workspaces
// that are provisioning and either not leased or whose lease has expired,
// oldest first, and returns them oldest first. Rows are locked with FOR
// UPDATE SKIP LOCKED, so concurrent claimers never get the same row and
// never wait for each other. It returns EInvalidArgument for an empty owner
// or a limit below 1, and a wrapped error if the database fails.
func (db *DB) ClaimWorkspaces(ctx context.Context, owner string, lease time.Duration, limit int) ([]*modelgate.Workspace, error) {
	if owner == "" || limit < 1 {
		return nil, modelgate.Errorf(modelgate.EInvalidArgument, "claim needs an owner and a limit of at least 1")
	}
	at := storecore.Now()
	// One statement, so one transaction: the row locks of the subquery are
	// held until the leases are written.
	ws, err := collectWorkspaces(db.pool.Query(ctx, `UPDATE workspaces w
		SET lease_owner = $1, lease_expires_at = $2
		FROM (
			SELECT org, id FROM workspaces
			WHERE status = 'provisioning' AND (lease_expires_at IS NULL OR lease_expires_at <= $3)
			ORDER BY created_at, id
			LIMIT $4
			FOR UPDATE SKIP LOCKED
		) c
		WHERE w.org = c.org AND w.id = c.id
		RETURNING `+workspaceColsOf("w"), owner, storecore.Micro(at.Add(lease)), at, limit))
	if err != nil {
		return nil, fmt.Errorf("claim workspaces: %w", err)
	}
	storecore.SortOldestFirst(ws)
	return ws, nil
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
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("finish workspace: %w", err)
	}
	defer tx.Rollback(ctx)

	at := storecore.Now()
	updated, err := scanWorkspace(tx.QueryRow(ctx, `UPDATE workspaces
		SET status = $4, status_code = $5, status_message = $6, provider = $7, platform_billed = $8, credential_scope = $9,
			lease_owner = NULL, lease_expires_at = NULL, updated_at = $10
		WHERE org = $1 AND id = $2 AND status = 'provisioning' AND lease_owner = $3
		RETURNING `+workspaceCols, w.Org, id, owner, status, code, message, w.Provider, w.PlatformBilled, w.CredentialScope, at))
	if errors.Is(err, pgx.ErrNoRows) {
		return storecore.NotLeased(w.ID, owner)
	}
	if err != nil {
		return fmt.Errorf("finish workspace: %w", err)
	}
	if err := insertEvent(ctx, tx, w.Org, id, modelgate.StatusProvisioning, status, code, at); err != nil {
		return fmt.Errorf("finish workspace: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("finish workspace: %w", err)
	}
	db.notifier.add(statusChannel, updated.ID)
	*w = *updated
	return nil
}

func insertEvent(ctx context.Context, tx pgx.Tx, org, id, from, to, code string, at time.Time) error {
	b := &pgx.Batch{}
	queueEvent(b, org, id, from, to, code, at)
	return execBatch(ctx, tx, b)
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
	updated, err := scanWorkspace(db.pool.QueryRow(ctx, `UPDATE workspaces
		SET attempts = attempts + 1, updated_at = $4
		WHERE org = $1 AND id = $2 AND status = 'provisioning' AND lease_owner = $3
		RETURNING `+workspaceCols, w.Org, id, owner, storecore.Now()))
	if errors.Is(err, pgx.ErrNoRows) {
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
	updated, err := scanWorkspace(db.pool.QueryRow(ctx, `UPDATE workspaces
		SET status_message = $4, updated_at = $5
		WHERE org = $1 AND id = $2 AND status = 'provisioning' AND lease_owner = $3
		RETURNING `+workspaceCols, w.Org, id, owner, message, storecore.Now()))
	if errors.Is(err, pgx.ErrNoRows) {
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
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("expire provisioning: %w", err)
	}
	defer tx.Rollback(ctx)

	at := storecore.Now()
	ws, err := collectWorkspaces(tx.Query(ctx, `UPDATE workspaces
		SET status = 'failed', status_code = $2, status_message = $3, lease_owner = NULL, lease_expires_at = NULL, updated_at = $4
		WHERE status = 'provisioning' AND created_at < $1 AND status_message = ''
			AND (lease_expires_at IS NULL OR lease_expires_at <= $4)
		RETURNING `+workspaceCols, storecore.Micro(olderThan), modelgate.EProvisionTimeout, message, at))
	if err != nil {
		return nil, fmt.Errorf("expire provisioning: %w", err)
	}
	b := &pgx.Batch{}
	for _, w := range ws {
		queueEvent(b, w.Org, w.ID, modelgate.StatusProvisioning, modelgate.StatusFailed, modelgate.EProvisionTimeout, at)
	}
	if err := execBatch(ctx, tx, b); err != nil {
		return nil, fmt.Errorf("expire provisioning: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("expire provisioning: %w", err)
	}
	for _, w := range ws {
		db.notifier.add(statusChannel, w.ID)
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
	rows, err := db.pool.Query(ctx, `SELECT id, '', $3, '', created_at, 0 AS seq
		FROM workspaces WHERE org = $1 AND id = $2
		UNION ALL
		SELECT e.workspace_id, e.from_status, e.to_status, e.code, e.at, e.seq
		FROM workspace_events e WHERE e.org = $1 AND e.workspace_id = $2 AND e.from_status <> ''
		ORDER BY seq`, org, uid, modelgate.StatusProvisioning)
	if err != nil {
		return nil, fmt.Errorf("status changes: %w", err)
	}
	changes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (modelgate.StatusChange, error) {
		var c modelgate.StatusChange
		var seq int
		err := r.Scan(&c.WorkspaceID, &c.From, &c.To, &c.Code, &c.At, &seq)
		c.At = c.At.UTC()
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
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM workspaces WHERE status = 'provisioning'`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count provisioning: %w", err)
	}
	return n, nil
}
