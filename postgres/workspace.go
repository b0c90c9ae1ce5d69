package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/internal/storecore"
)

// provisionChannel is the channel notified, with the org as payload, when
// CreateWorkspace has created a row.
const provisionChannel = "modelgate_provision"

// statusChannel is the channel notified, with the workspace id as payload,
// after a transaction that changed the status of a workspace (finished,
// expired or removed it) has committed; ListenStatus listens to it.
const statusChannel = "modelgate_status"

// workspaceColumns are the columns scanWorkspace reads, in its order.
var workspaceColumns = []string{
	"org", "id", "name", "role", "tier", "runtime", "model", "provider", "platform_billed",
	"credential_scope", "status", "status_code", "status_message", "parent_id", "idempotency_key",
	"attempts", "created_at", "updated_at",
}

// workspaceCols is workspaceColumns as a select list.
var workspaceCols = strings.Join(workspaceColumns, ", ")

// workspaceColsOf returns workspaceColumns qualified by a table alias.
func workspaceColsOf(alias string) string {
	return alias + "." + strings.Join(workspaceColumns, ", "+alias+".")
}

func scanWorkspace(row pgx.Row) (*modelgate.Workspace, error) {
	var w modelgate.Workspace
	var parent, key *string
	err := row.Scan(&w.Org, &w.ID, &w.Name, &w.Role, &w.Tier, &w.Runtime, &w.Model, &w.Provider,
		&w.PlatformBilled, &w.CredentialScope, &w.Status, &w.StatusCode, &w.StatusMessage,
		&parent, &key, &w.Attempts, &w.CreatedAt, &w.UpdatedAt)
	if err != nil {
		return nil, err
	}
	w.ParentID, w.IdempotencyKey = text(parent), text(key)
	w.CreatedAt, w.UpdatedAt = w.CreatedAt.UTC(), w.UpdatedAt.UTC()
	return &w, nil
}

func collectWorkspaces(rows pgx.Rows, err error) ([]*modelgate.Workspace, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*modelgate.Workspace, error) { return scanWorkspace(r) })
}

// CreateWorkspace inserts the workspace, its secrets and its first status
// event in one transaction, then notifies provisioners (ListenProvision),
// and returns the stored row with created=true. If the idempotency key is
// already used in the org it returns that workspace with created=false and
// writes nothing. It returns EInvalidArgument for a workspace without org or
// name, a tier outside 1..4, an ID that is not a UUID or is already taken,
// or a malformed secret, ENameConflict when a live workspace of the org has
// the name, ENotFound when ParentID names no workspace of the org,
// EWorkspaceLimit when the org already has nw.MaxWorkspaces (if positive)
// live workspaces (see insertWorkspaceLimited), and a wrapped error if the
// database fails.
func (db *DB) CreateWorkspace(ctx context.Context, nw modelgate.NewWorkspace) (*modelgate.Workspace, bool, error) {
	w, err := storecore.NewWorkspace(nw, storecore.Now())
	if err != nil {
		return nil, false, err
	}
	if w.IdempotencyKey != "" {
		// A repeated call is answered by this one read and writes nothing.
		// Reading inside the transaction would guarantee nothing more
		// (READ COMMITTED); a concurrent first call is caught below.
		existing, err := workspaceByKey(ctx, db.pool, w.Org, w.IdempotencyKey)
		if err == nil {
			return existing, false, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return nil, false, fmt.Errorf("create workspace: %w", err)
		}
	}
	if nw.MaxWorkspaces > 0 {
		err = db.insertWorkspaceLimited(ctx, w, nw.Secrets, nw.Audit, nw.MaxWorkspaces)
	} else {
		err = db.insertWorkspace(ctx, w, nw.Secrets, nw.Audit)
	}
	switch {
	case err == nil:
		db.notifier.add(provisionChannel, w.Org)
		return w, true, nil
	case modelgate.ErrorCode(err) == modelgate.EWorkspaceLimit && w.IdempotencyKey != "":
		// A concurrent call with the same key may have taken the last
		// place: it answers this call.
		if existing, kerr := workspaceByKey(ctx, db.pool, w.Org, w.IdempotencyKey); kerr == nil {
			return existing, false, nil
		}
		return nil, false, err
	case modelgate.ErrorCode(err) == modelgate.EWorkspaceLimit:
		return nil, false, err
	case violated(err, constraintIdempotencyKey), violated(err, constraintLiveName) && w.IdempotencyKey != "":
		// A concurrent call with the same key committed first. With the
		// same name, the name index may be the one that noticed.
		existing, kerr := workspaceByKey(ctx, db.pool, w.Org, w.IdempotencyKey)
		if kerr == nil {
			return existing, false, nil
		}
		if !errors.Is(kerr, pgx.ErrNoRows) {
			return nil, false, fmt.Errorf("create workspace: %w", kerr)
		}
		if violated(err, constraintLiveName) {
			return nil, false, storecore.NameConflict(w.Name)
		}
		return nil, false, fmt.Errorf("create workspace: %w", err)
	case violated(err, constraintLiveName):
		return nil, false, storecore.NameConflict(w.Name)
	case violated(err, constraintParent):
		return nil, false, storecore.ParentNotFound(w.ParentID)
	case violated(err, constraintWorkspacePK):
		return nil, false, storecore.IDTaken(w.ID)
	default:
		return nil, false, fmt.Errorf("create workspace: %w", err)
	}
}

// insertWorkspace writes the org (if new), the workspace, its secrets and
// the audit entry of the decision: one statement, so one transaction and one
// round trip. The workspace row is its own creation event (see
// StatusChanges), so nothing is written to workspace_events.
func (db *DB) insertWorkspace(ctx context.Context, w *modelgate.Workspace, secrets []modelgate.SealedSecret, a *modelgate.AuditEntry) error {
	args, err := insertArgs(w, secrets, a)
	if err != nil {
		return err
	}
	sql := insertWorkspaceSQL
	if !db.orgs.known(w.Org) {
		sql = insertOrgAndWorkspaceSQL
	}
	_, err = db.pool.Exec(ctx, sql, args...)
	if err == nil {
		db.orgs.add(w.Org)
	}
	return err
}

// insertArgs returns the arguments $1..$25 of insertWorkspaceSQL.
func insertArgs(w *modelgate.Workspace, secrets []modelgate.SealedSecret, a *modelgate.AuditEntry) ([]any, error) {
	names := make([]string, len(secrets))
	keyIDs := make([]string, len(secrets))
	ciphertexts := make([][]byte, len(secrets))
	checkedAt := make([]*time.Time, len(secrets))
	for i, s := range secrets {
		names[i], keyIDs[i], ciphertexts[i] = s.Name, s.Sealed.KeyID, s.Sealed.Ciphertext
		if !s.CheckedAt.IsZero() {
			at := storecore.Micro(s.CheckedAt)
			checkedAt[i] = &at
		}
	}
	// The audit row of the decision rides in the same statement ($22 says
	// whether there is one).
	var audit modelgate.AuditEntry
	if a != nil {
		audit = *a
	}
	auditID, err := uuid.NewV7()
	if err != nil {
		return nil, err
	}
	return []any{w.Org, w.ID, w.Name, w.Role, w.Tier, w.Runtime, w.Model, w.Provider, w.PlatformBilled,
		w.CredentialScope, w.Status, w.StatusCode, w.StatusMessage, storecore.NullText(w.ParentID),
		storecore.NullText(w.IdempotencyKey), w.Attempts, w.CreatedAt, w.UpdatedAt,
		names, keyIDs, ciphertexts, a != nil, auditID.String(), audit.TokenPrefix, checkedAt}, nil
}

// insertWorkspaceSQL inserts the workspace ($1..$18 in the order of
// workspaceColumns), its secrets (arrays $19 names, $20 key ids, $21
// ciphertexts, $25 checked_at, NULL for unchecked) and the audit entry of the decision when $22 (id $23, token
// prefix $24) in one statement: for a row this small, each statement and
// round trip costs about as much as its insert, and CreateWorkspace is the
// hot path. The parent's foreign key is checked at the end of the
// statement. It is used once this DB has seen the org's row (orgCache).
const insertWorkspaceSQL = `WITH new_workspace AS (
	INSERT INTO workspaces (org, id, name, role, tier, runtime, model, provider, platform_billed,
		credential_scope, status, status_code, status_message, parent_id, idempotency_key,
		attempts, created_at, updated_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
	RETURNING org, id, created_at
), new_secrets AS (
	INSERT INTO workspace_secrets (org, workspace_id, name, key_id, ciphertext, updated_at, checked_at)
	SELECT w.org, w.id, s.name, s.key_id, s.ciphertext, w.created_at, s.checked_at
	FROM new_workspace w, unnest($19::text[], $20::text[], $21::bytea[], $25::timestamptz[])
		AS s (name, key_id, ciphertext, checked_at)
)
INSERT INTO audit (org, id, at, token_prefix, allowed, code, runtime, model, provider,
	credential_scope, workspace_id, dry_run)
SELECT $1, $23, $17, $24, true, '', $6, $7, $8, $10, $2, false
WHERE $22::boolean`

// insertOrgAndWorkspaceSQL is insertWorkspaceSQL that first inserts the
// org's row if it is missing, for an org this DB has not seen yet.
var insertOrgAndWorkspaceSQL = strings.Replace(insertWorkspaceSQL, "WITH ", `WITH new_org AS (
	INSERT INTO orgs (org, created_at) VALUES ($1, $17) ON CONFLICT (org) DO NOTHING
), `, 1)

// insertWorkspaceLimited is insertWorkspace for an org with a limit of
// live workspaces. It returns the EWorkspaceLimit error, having written
// nothing, when the org already has limit live workspaces; concurrent
// calls, from any process, never take the org past its limit.
//
// Counting and inserting under a lock that every create of the org holds
// exclusively would make the org's creates wait for each other's commits
// (one WAL flush at a time, where they now share flushes), so the lock, an
// advisory lock of the org, is taken exclusively only near the limit:
//
//   - First attempt: take it shared and insert only if the live
//     workspaces the statement sees plus max_connections are below the
//     limit. The creates it cannot see are those of transactions still in
//     flight, and each server connection (of every process) runs at most
//     one of them, so the org cannot pass its limit whatever they decide.
//   - Otherwise, a second transaction takes it exclusively, which waits
//     for every shared holder to finish, and counts exactly.
//
// Each attempt is one batch, so one implicit transaction: the lock, then
// the insert in a later statement, whose snapshot sees every create
// committed before the lock was granted.
func (db *DB) insertWorkspaceLimited(ctx context.Context, w *modelgate.Workspace, secrets []modelgate.SealedSecret, a *modelgate.AuditEntry, limit int) error {
	args, err := insertArgs(w, secrets, a)
	if err != nil {
		return err
	}
	lockKey := "modelgate.workspaces:" + db.schema + ":" + w.Org
	for _, shared := range []bool{true, false} {
		lock := `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`
		if shared {
			lock = `SELECT pg_advisory_xact_lock_shared(hashtextextended($1, 0))`
		}
		b := &pgx.Batch{}
		b.Queue(lock, lockKey)
		sql := insertWorkspaceLimitedSQL
		if !db.orgs.known(w.Org) {
			sql = insertOrgAndWorkspaceLimitedSQL
		}
		b.Queue(sql, append(args, limit, shared)...)
		var inserted int
		br := db.pool.SendBatch(ctx, b)
		_, err := br.Exec()
		if err == nil {
			err = br.QueryRow().Scan(&inserted)
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		if inserted == 1 {
			db.orgs.add(w.Org)
			return nil
		}
	}
	return storecore.WorkspaceLimit(limit)
}

// insertWorkspaceLimitedSQL is insertWorkspaceSQL that inserts only when
// the org's live workspaces, plus max_connections when $27 (the shared
// attempt of insertWorkspaceLimited), are fewer than $26, and answers how
// many workspaces it inserted (0 or 1).
const insertWorkspaceLimitedSQL = `WITH new_workspace AS (
	INSERT INTO workspaces (org, id, name, role, tier, runtime, model, provider, platform_billed,
		credential_scope, status, status_code, status_message, parent_id, idempotency_key,
		attempts, created_at, updated_at)
	SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18
	WHERE (SELECT count(*) FROM workspaces WHERE org = $1 AND status <> 'removed')
		+ CASE WHEN $27::boolean THEN current_setting('max_connections')::integer ELSE 0 END < $26::integer
	RETURNING org, id, created_at
), new_secrets AS (
	INSERT INTO workspace_secrets (org, workspace_id, name, key_id, ciphertext, updated_at, checked_at)
	SELECT w.org, w.id, s.name, s.key_id, s.ciphertext, w.created_at, s.checked_at
	FROM new_workspace w, unnest($19::text[], $20::text[], $21::bytea[], $25::timestamptz[])
		AS s (name, key_id, ciphertext, checked_at)
), new_audit AS (
	INSERT INTO audit (org, id, at, token_prefix, allowed, code, runtime, model, provider,
		credential_scope, workspace_id, dry_run)
	SELECT w.org, $23, w.created_at, $24, true, '', $6, $7, $8, $10, w.id, false
	FROM new_workspace w WHERE $22::boolean
)
SELECT count(*)::integer FROM new_workspace`

// insertOrgAndWorkspaceLimitedSQL is insertWorkspaceLimitedSQL that also
// inserts the org's row if it is missing, for an org this DB has not seen
// yet; only with the workspace, so a refused call writes nothing.
var insertOrgAndWorkspaceLimitedSQL = strings.Replace(insertWorkspaceLimitedSQL, "), new_secrets AS (", `), new_org AS (
	INSERT INTO orgs (org, created_at) SELECT org, created_at FROM new_workspace ON CONFLICT (org) DO NOTHING
), new_secrets AS (`, 1)

// CountLiveWorkspaces returns how many of the org's workspaces are not
// removed. It returns a wrapped error if the database fails.
func (db *DB) CountLiveWorkspaces(ctx context.Context, org string) (int, error) {
	var n int
	if err := db.pool.QueryRow(ctx, `SELECT count(*)::integer FROM workspaces WHERE org = $1 AND status <> 'removed'`, org).Scan(&n); err != nil {
		return 0, fmt.Errorf("count live workspaces: %w", err)
	}
	return n, nil
}

// queueEvent queues the insert of a status change into b. Seq 1 is the
// creation, which the workspace row records itself, so recorded changes
// start at 2. The caller has written (and so locked) the workspace row in
// the same transaction, so no other transaction can pick the same seq.
func queueEvent(b *pgx.Batch, org, id, from, to, code string, at time.Time) {
	b.Queue(`INSERT INTO workspace_events (org, workspace_id, seq, from_status, to_status, code, at)
		SELECT $1, $2, coalesce(max(seq), 1) + 1, $3, $4, $5, $6
		FROM workspace_events WHERE org = $1 AND workspace_id = $2`,
		org, id, from, to, code, at)
}

// execBatch sends b and returns the first error of its statements.
func execBatch(ctx context.Context, q querier, b *pgx.Batch) error {
	br := q.SendBatch(ctx, b)
	for range b.Len() {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return err
		}
	}
	return br.Close()
}

func workspaceByKey(ctx context.Context, q querier, org, key string) (*modelgate.Workspace, error) {
	return scanWorkspace(q.QueryRow(ctx, `SELECT `+workspaceCols+` FROM workspaces
		WHERE org = $1 AND idempotency_key = $2`, org, key))
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
	w, err := workspaceByID(ctx, db.pool, org, uid)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, storecore.WorkspaceNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("get workspace: %w", err)
	}
	return w, nil
}

func workspaceByID(ctx context.Context, q querier, org, id string) (*modelgate.Workspace, error) {
	return scanWorkspace(q.QueryRow(ctx, `SELECT `+workspaceCols+` FROM workspaces WHERE org = $1 AND id = $2`, org, id))
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
	sql := `SELECT ` + workspaceCols + ` FROM workspaces WHERE org = $1`
	args := []any{org}
	if f.Status == "" {
		sql += ` AND status <> 'removed'`
	} else {
		args = append(args, f.Status)
		sql += fmt.Sprintf(` AND status = $%d`, len(args))
	}
	if after != nil {
		args = append(args, after.CreatedAt, after.ID)
		sql += fmt.Sprintf(` AND (created_at, id) > ($%d, $%d)`, len(args)-1, len(args))
	}
	args = append(args, f.Limit+1)
	sql += fmt.Sprintf(` ORDER BY created_at, id LIMIT $%d`, len(args))

	ws, err := collectWorkspaces(db.pool.Query(ctx, sql, args...))
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
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("deprovision workspace: %w", err)
	}
	defer tx.Rollback(ctx)

	w, err := scanWorkspace(tx.QueryRow(ctx, `SELECT `+workspaceCols+` FROM workspaces
		WHERE org = $1 AND id = $2 FOR UPDATE`, org, uid))
	if errors.Is(err, pgx.ErrNoRows) {
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
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("deprovision workspace: %w", err)
	}
	db.notifier.add(statusChannel, w.ID)
	return w, nil
}

func removeWorkspace(ctx context.Context, tx pgx.Tx, w *modelgate.Workspace, from string) error {
	b := &pgx.Batch{}
	b.Queue(`UPDATE workspaces SET status = $3, status_code = '', status_message = '',
		lease_owner = NULL, lease_expires_at = NULL, updated_at = $4
		WHERE org = $1 AND id = $2`, w.Org, w.ID, w.Status, w.UpdatedAt)
	b.Queue(`DELETE FROM workspace_secrets WHERE org = $1 AND workspace_id = $2`, w.Org, w.ID)
	queueEvent(b, w.Org, w.ID, from, w.Status, "", w.UpdatedAt)
	return execBatch(ctx, tx, b)
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
	rows, err := db.pool.Query(ctx, `SELECT s.name, s.key_id, s.ciphertext, s.checked_at, s.rejected_at
		FROM workspaces w LEFT JOIN workspace_secrets s ON s.org = w.org AND s.workspace_id = w.id
		WHERE w.org = $1 AND w.id = $2
		ORDER BY s.name`, org, uid)
	if err != nil {
		return nil, fmt.Errorf("workspace secrets: %w", err)
	}
	var found bool
	secrets := []modelgate.SealedSecret{}
	defer rows.Close()
	for rows.Next() {
		found = true
		var name, keyID *string
		var ct []byte
		var checked, rejected *time.Time
		if err := rows.Scan(&name, &keyID, &ct, &checked, &rejected); err != nil {
			return nil, fmt.Errorf("workspace secrets: %w", err)
		}
		if name != nil {
			secrets = append(secrets, modelgate.SealedSecret{Name: *name, Sealed: modelgate.Sealed{KeyID: *keyID, Ciphertext: ct},
				CheckedAt: zeroTime(checked), RejectedAt: zeroTime(rejected)})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("workspace secrets: %w", err)
	}
	if !found {
		return nil, storecore.WorkspaceNotFound(id)
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
		w, err = workspaceByKey(ctx, db.pool, org, key)
	} else {
		w, err = liveWorkspaceByName(ctx, db.pool, org, name)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, modelgate.Errorf(modelgate.ENotFound, "no such workspace")
	}
	if err != nil {
		return nil, fmt.Errorf("find workspace: %w", err)
	}
	return w, nil
}

func liveWorkspaceByName(ctx context.Context, q querier, org, name string) (*modelgate.Workspace, error) {
	return scanWorkspace(q.QueryRow(ctx, `SELECT `+workspaceCols+` FROM workspaces
		WHERE org = $1 AND name = $2 AND status <> 'removed'`, org, name))
}
