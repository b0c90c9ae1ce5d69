package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/internal/storecore"
)

// workspaceCols are the columns scanWorkspace reads, in its order.
const workspaceCols = `org, id, name, role, tier, runtime, model, provider, platform_billed,
	credential_scope, status, status_code, status_message, parent_id, idempotency_key,
	attempts, created_at, updated_at`

func scanWorkspace(row scanner) (*modelgate.Workspace, error) {
	var w modelgate.Workspace
	var parent, key sql.NullString
	err := row.Scan(&w.Org, &w.ID, &w.Name, &w.Role, &w.Tier, &w.Runtime, &w.Model, &w.Provider,
		&w.PlatformBilled, &w.CredentialScope, &w.Status, &w.StatusCode, &w.StatusMessage,
		&parent, &key, &w.Attempts, timeCol{&w.CreatedAt}, timeCol{&w.UpdatedAt})
	if err != nil {
		return nil, err
	}
	w.ParentID, w.IdempotencyKey = parent.String, key.String
	return &w, nil
}

func collectWorkspaces(rows *sql.Rows, err error) ([]*modelgate.Workspace, error) {
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r *sql.Rows) (*modelgate.Workspace, error) { return scanWorkspace(r) })
}

// CreateWorkspace inserts the workspace, its secrets and its first status
// event in one transaction, wakes the ListenProvision calls of db, and
// returns the stored row with created=true. If the idempotency key is
// already used in the org it returns that workspace with created=false and
// writes nothing. It returns EInvalidArgument for a workspace without org or
// name, a tier outside 1..4, an ID that is not a UUID or is already taken,
// or a malformed secret, ENameConflict when a live workspace of the org has
// the name, ENotFound when ParentID names no workspace of the org,
// EWorkspaceLimit when the org already has nw.MaxWorkspaces (if positive)
// live workspaces, and a wrapped error if the database fails. The count
// runs in the write transaction, so no other create can slip in between.
func (db *DB) CreateWorkspace(ctx context.Context, nw modelgate.NewWorkspace) (*modelgate.Workspace, bool, error) {
	w, err := storecore.NewWorkspace(nw, storecore.Now())
	if err != nil {
		return nil, false, err
	}
	tx, err := db.begin(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("create workspace: %w", err)
	}
	defer tx.Rollback()

	// The transaction holds the write lock, so what these reads find
	// cannot change before the insert.
	if w.IdempotencyKey != "" {
		existing, err := workspaceByKey(ctx, tx, w.Org, w.IdempotencyKey)
		if err == nil {
			return existing, false, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return nil, false, fmt.Errorf("create workspace: %w", err)
		}
	}
	if nw.MaxWorkspaces > 0 {
		n, err := countLive(ctx, tx, w.Org)
		if err != nil {
			return nil, false, fmt.Errorf("create workspace: %w", err)
		}
		if n >= nw.MaxWorkspaces {
			return nil, false, storecore.WorkspaceLimit(nw.MaxWorkspaces)
		}
	}
	if w.ParentID != "" {
		_, err := workspaceByID(ctx, tx, w.Org, w.ParentID)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, false, storecore.ParentNotFound(w.ParentID)
		}
		if err != nil {
			return nil, false, fmt.Errorf("create workspace: %w", err)
		}
	}
	err = insertWorkspace(ctx, tx, w, nw.Secrets)
	if err == nil && nw.Audit != nil {
		err = insertWorkspaceAudit(ctx, tx, w, *nw.Audit)
	}
	if uniqueViolation(err, "workspaces.name") {
		return nil, false, storecore.NameConflict(w.Name)
	}
	if uniqueViolation(err, "workspaces.id") {
		return nil, false, storecore.IDTaken(w.ID)
	}
	if err != nil {
		return nil, false, fmt.Errorf("create workspace: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, false, fmt.Errorf("create workspace: %w", err)
	}
	db.signalProvision()
	return w, true, nil
}

// countLive returns the number of the org's live workspaces (read from
// the partial index of live names).
func countLive(ctx context.Context, q querier, org string) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT count(*) FROM workspaces WHERE org = ? AND status <> 'removed'`, org).Scan(&n)
	return n, err
}

// CountLiveWorkspaces returns how many of the org's workspaces are not
// removed. It returns a wrapped error if the database fails.
func (db *DB) CountLiveWorkspaces(ctx context.Context, org string) (int, error) {
	n, err := countLive(ctx, db.read, org)
	if err != nil {
		return 0, fmt.Errorf("count live workspaces: %w", err)
	}
	return n, nil
}

// insertWorkspace writes the org (if new), the workspace and its secrets.
// The workspace row is its own creation event (see StatusChanges).
func insertWorkspace(ctx context.Context, tx *sql.Tx, w *modelgate.Workspace, secrets []modelgate.SealedSecret) error {
	if err := ensureOrg(ctx, tx, w.Org, w.CreatedAt); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO workspaces (`+workspaceCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		w.Org, w.ID, w.Name, w.Role, w.Tier, w.Runtime, w.Model, w.Provider, w.PlatformBilled,
		w.CredentialScope, w.Status, w.StatusCode, w.StatusMessage, storecore.NullText(w.ParentID),
		storecore.NullText(w.IdempotencyKey), w.Attempts, ts(w.CreatedAt), ts(w.UpdatedAt))
	if err != nil {
		return err
	}
	for _, s := range secrets {
		if _, err := tx.ExecContext(ctx, `INSERT INTO workspace_secrets (org, workspace_id, name, key_id, ciphertext, updated_at, checked_at, rejected_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, w.Org, w.ID, s.Name, s.Sealed.KeyID, s.Sealed.Ciphertext, ts(w.CreatedAt),
			nullTS(s.CheckedAt), nullTS(s.RejectedAt)); err != nil {
			return err
		}
	}
	return nil
}

// insertWorkspaceAudit appends the decision that allowed w, in w's
// transaction.
func insertWorkspaceAudit(ctx context.Context, tx *sql.Tx, w *modelgate.Workspace, e modelgate.AuditEntry) error {
	id, err := uuid.NewV7()
	if err != nil {
		return err
	}
	// As the PostgreSQL store: the entry describes the created workspace.
	e.Org, e.WorkspaceID, e.At = w.Org, w.ID, w.CreatedAt
	e.Allowed, e.Code, e.DryRun = true, "", false
	e.Runtime, e.Model, e.Provider, e.CredentialScope = w.Runtime, w.Model, w.Provider, w.CredentialScope
	return insertAudit(ctx, tx, id.String(), e)
}

// insertEvent records a status change. Seq 1 is the creation, which the
// workspace row records itself, so recorded changes start at 2. Write
// transactions are serialized, so no other transaction can pick the same
// seq.
func insertEvent(ctx context.Context, tx *sql.Tx, org, id, from, to, code string, at time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO workspace_events (org, workspace_id, seq, from_status, to_status, code, at)
		SELECT ?1, ?2, coalesce(max(seq), 1) + 1, ?3, ?4, ?5, ?6
		FROM workspace_events WHERE org = ?1 AND workspace_id = ?2`,
		org, id, from, to, code, ts(at))
	return err
}

func workspaceByKey(ctx context.Context, q querier, org, key string) (*modelgate.Workspace, error) {
	return scanWorkspace(q.QueryRowContext(ctx, `SELECT `+workspaceCols+` FROM workspaces
		WHERE org = ? AND idempotency_key = ?`, org, key))
}

func workspaceByID(ctx context.Context, q querier, org, id string) (*modelgate.Workspace, error) {
	return scanWorkspace(q.QueryRowContext(ctx, `SELECT `+workspaceCols+` FROM workspaces WHERE org = ? AND id = ?`, org, id))
}

// GetWorkspace returns the workspace, or ENotFound when the org has no
// workspace with id (including another org's workspace and an id that is
// not a UUID, which costs no query). It returns a wrapped error if the
// database fails.
func (db *DB) GetWorkspace(ctx context.Context, org, id string) (*modelgate.Workspace, error) {
	uid, ok := storecore.ParseID(id)
	if !ok {
		return nil, storecore.WorkspaceNotFound(id)
	}
	w, err := workspaceByID(ctx, db.read, org, uid)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, storecore.WorkspaceNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("get workspace: %w", err)
	}
	return w, nil
}

// ListWorkspaces returns one page of the org's workspaces ordered by
// (created_at, id), and the cursor of the next page ("" on the last page).
// Removed workspaces are listed only when f.Status is "removed". It returns
// EInvalidArgument for a limit outside 1..200, an unknown status or a
// malformed cursor, and a wrapped error if the database fails.
func (db *DB) ListWorkspaces(ctx context.Context, org string, f modelgate.WorkspaceFilter) ([]*modelgate.Workspace, string, error) {
	if err := storecore.CheckFilter(f); err != nil {
		return nil, "", err
	}
	after, err := storecore.DecodeCursor(f.Cursor)
	if err != nil {
		return nil, "", err
	}
	query := `SELECT ` + workspaceCols + ` FROM workspaces WHERE org = ?`
	args := []any{org}
	if f.Status == "" {
		query += ` AND status <> 'removed'`
	} else {
		query += ` AND status = ?`
		args = append(args, f.Status)
	}
	if after != nil {
		query += ` AND (created_at, id) > (?, ?)`
		args = append(args, ts(after.CreatedAt), after.ID)
	}
	query += ` ORDER BY created_at, id LIMIT ?`
	args = append(args, f.Limit+1)

	ws, err := collectWorkspaces(db.read.QueryContext(ctx, query, args...))
	if err != nil {
		return nil, "", fmt.Errorf("list workspaces: %w", err)
	}
	ws, next := storecore.Page(ws, f.Limit)
	return ws, next, nil
}

// DeprovisionWorkspace marks the workspace removed, deletes its workspace
// secrets (nothing will start it again), ends any lease and records the
// change, in one transaction; it returns the updated workspace. A removed
// workspace is returned unchanged. It returns ENotFound as GetWorkspace,
// EConfirmationRequired when confirmName is not the workspace's name, and a
// wrapped error if the database fails.
func (db *DB) DeprovisionWorkspace(ctx context.Context, org, id, confirmName string) (*modelgate.Workspace, error) {
	uid, ok := storecore.ParseID(id)
	if !ok {
		return nil, storecore.WorkspaceNotFound(id)
	}
	tx, err := db.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("deprovision workspace: %w", err)
	}
	defer tx.Rollback()

	w, err := workspaceByID(ctx, tx, org, uid)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, storecore.WorkspaceNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("deprovision workspace: %w", err)
	}
	if confirmName != w.Name {
		return nil, modelgate.Errorf(modelgate.EConfirmationRequired, "confirm_name must equal the name of workspace %s", id)
	}
	if w.Status == modelgate.StatusRemoved {
		return w, nil
	}
	from := w.Status
	w.Status, w.StatusCode, w.StatusMessage, w.UpdatedAt = modelgate.StatusRemoved, "", "", storecore.Now()
	if err := removeWorkspace(ctx, tx, w, from); err != nil {
		return nil, fmt.Errorf("deprovision workspace: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("deprovision workspace: %w", err)
	}
	db.signalStatus(w.ID)
	return w, nil
}

func removeWorkspace(ctx context.Context, tx *sql.Tx, w *modelgate.Workspace, from string) error {
	if _, err := tx.ExecContext(ctx, `UPDATE workspaces SET status = ?, status_code = '', status_message = '',
		lease_owner = NULL, lease_expires_at = NULL, updated_at = ?
		WHERE org = ? AND id = ?`, w.Status, ts(w.UpdatedAt), w.Org, w.ID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM workspace_secrets WHERE org = ? AND workspace_id = ?`, w.Org, w.ID); err != nil {
		return err
	}
	return insertEvent(ctx, tx, w.Org, w.ID, from, w.Status, "", w.UpdatedAt)
}

// WorkspaceSecrets returns the workspace's sealed secrets ordered by name
// (empty, not nil, when it has none). It returns ENotFound as GetWorkspace
// and a wrapped error if the database fails.
func (db *DB) WorkspaceSecrets(ctx context.Context, org, id string) ([]modelgate.SealedSecret, error) {
	uid, ok := storecore.ParseID(id)
	if !ok {
		return nil, storecore.WorkspaceNotFound(id)
	}
	// One statement: the workspace row tells "no such workspace" (no row)
	// from "no secrets" (one row of NULLs).
	rows, err := db.read.QueryContext(ctx, `SELECT s.name, s.key_id, s.ciphertext, s.checked_at, s.rejected_at
		FROM workspaces w LEFT JOIN workspace_secrets s ON s.org = w.org AND s.workspace_id = w.id
		WHERE w.org = ? AND w.id = ?
		ORDER BY s.name`, org, uid)
	if err != nil {
		return nil, fmt.Errorf("workspace secrets: %w", err)
	}
	type row struct {
		name, keyID         sql.NullString
		ciphertext          []byte
		checked, rejectedAt time.Time
	}
	found, err := collect(rows, func(r *sql.Rows) (row, error) {
		var x row
		err := r.Scan(&x.name, &x.keyID, &x.ciphertext, zeroTimeCol{&x.checked}, zeroTimeCol{&x.rejectedAt})
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("workspace secrets: %w", err)
	}
	if len(found) == 0 {
		return nil, storecore.WorkspaceNotFound(id)
	}
	secrets := []modelgate.SealedSecret{}
	for _, x := range found {
		if x.name.Valid {
			secrets = append(secrets, modelgate.SealedSecret{Name: x.name.String, Sealed: modelgate.Sealed{KeyID: x.keyID.String, Ciphertext: x.ciphertext},
				CheckedAt: x.checked, RejectedAt: x.rejectedAt})
		}
	}
	return secrets, nil
}

// FindWorkspace returns the workspace with the idempotency key (key != "")
// or else the live workspace named name. It returns ENotFound when there is
// none and a wrapped error if the database fails.
func (db *DB) FindWorkspace(ctx context.Context, org, key, name string) (*modelgate.Workspace, error) {
	var w *modelgate.Workspace
	var err error
	if key != "" {
		w, err = workspaceByKey(ctx, db.read, org, key)
	} else {
		w, err = liveWorkspaceByName(ctx, db.read, org, name)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, modelgate.Errorf(modelgate.ENotFound, "no such workspace")
	}
	if err != nil {
		return nil, fmt.Errorf("find workspace: %w", err)
	}
	return w, nil
}

func liveWorkspaceByName(ctx context.Context, q querier, org, name string) (*modelgate.Workspace, error) {
	return scanWorkspace(q.QueryRowContext(ctx, `SELECT `+workspaceCols+` FROM workspaces
		WHERE org = ? AND name = ? AND status <> 'removed'`, org, name))
}
