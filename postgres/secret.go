package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/internal/storecore"
)

// OrgSecretNames returns the names of the org's secrets that no provider
// rejected, ordered by name, in one query: the one the gate may make. It returns a wrapped error if the
// database fails.
func (db *DB) OrgSecretNames(ctx context.Context, org string) ([]string, error) {
	rows, err := db.pool.Query(ctx, `SELECT name FROM org_secrets WHERE org = $1 AND rejected_at IS NULL ORDER BY name`, org)
	if err != nil {
		return nil, fmt.Errorf("org secret names: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("org secret names: %w", err)
	}
	return names, nil
}

// SecretKeyIDs returns the distinct key ids of every stored secret, sorted.
// It returns a wrapped error if the database fails.
func (db *DB) SecretKeyIDs(ctx context.Context) ([]string, error) {
	rows, err := db.pool.Query(ctx, `SELECT key_id FROM org_secrets UNION SELECT key_id FROM workspace_secrets ORDER BY key_id`)
	if err != nil {
		return nil, fmt.Errorf("secret key ids: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("secret key ids: %w", err)
	}
	return ids, nil
}

// OrgSecrets returns the org's sealed secrets ordered by name, with the
// verdicts of their last checks. It returns a wrapped error if the database
// fails.
func (db *DB) OrgSecrets(ctx context.Context, org string) ([]modelgate.SealedSecret, error) {
	rows, err := db.pool.Query(ctx, `SELECT name, key_id, ciphertext, checked_at, rejected_at FROM org_secrets WHERE org = $1 ORDER BY name`, org)
	if err != nil {
		return nil, fmt.Errorf("org secrets: %w", err)
	}
	secrets, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (modelgate.SealedSecret, error) {
		var s modelgate.SealedSecret
		var checked, rejected *time.Time
		err := r.Scan(&s.Name, &s.Sealed.KeyID, &s.Sealed.Ciphertext, &checked, &rejected)
		s.CheckedAt, s.RejectedAt = zeroTime(checked), zeroTime(rejected)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("org secrets: %w", err)
	}
	return secrets, nil
}

// SetOrgSecret inserts the secret or replaces the value of the org's secret
// of that name, and returns its name and update time. It returns
// EInvalidArgument for an empty org or name or an unsealed value,
// EWorkspaceLimit for a new name when max is positive and the org already
// holds max secrets (replacing is always allowed), and a wrapped error if
// the database fails. The ListenOrgSecrets calls of db hear of the org
// before it returns. With a limit, the count and the insert run under an
// exclusive advisory lock of the org's secrets, in one batch (one implicit
// transaction), so concurrent calls never take the org past its limit.
func (db *DB) SetOrgSecret(ctx context.Context, org string, s modelgate.SealedSecret, max int) (modelgate.SecretInfo, error) {
	if err := storecore.CheckOrg(org); err != nil {
		return modelgate.SecretInfo{}, err
	}
	if err := storecore.CheckSecrets([]modelgate.SealedSecret{s}); err != nil {
		return modelgate.SecretInfo{}, err
	}
	// Reported once the statement has ended, committed or not.
	defer db.orgSecretChanges.Publish(org)
	at := storecore.Now()
	b := &pgx.Batch{}
	if max > 0 {
		b.Queue(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, "modelgate.org_secrets:"+db.schema+":"+org)
	}
	b.Queue(setOrgSecretSQL, org, s.Name, s.Sealed.KeyID, s.Sealed.Ciphertext, at, max, nullTime(s.CheckedAt))
	var written int
	br := db.pool.SendBatch(ctx, b)
	var err error
	if max > 0 {
		_, err = br.Exec()
	}
	if err == nil {
		err = br.QueryRow().Scan(&written)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return modelgate.SecretInfo{}, fmt.Errorf("set org secret %s: %w", s.Name, err)
	}
	if written == 0 {
		return modelgate.SecretInfo{}, storecore.SecretLimit(max)
	}
	return modelgate.SecretInfo{Name: s.Name, UpdatedAt: at}, nil
}

// RecordSecretCheck sets checked_at and rejected_at of the org secret
// (workspaceID "") or workspace secret named s.Name whose ciphertext is
// still s.Sealed.Ciphertext. It returns false when no row matched (the
// value was replaced or deleted since), and a wrapped error if the database
// fails. The ListenOrgSecrets calls of db hear of an org secret's org
// before it returns.
func (db *DB) RecordSecretCheck(ctx context.Context, org, workspaceID string, s modelgate.SealedSecret) (bool, error) {
	var tag pgconn.CommandTag
	var err error
	if workspaceID == "" {
		defer db.orgSecretChanges.Publish(org) // a verdict decides whether the key is usable
		tag, err = db.pool.Exec(ctx, `UPDATE org_secrets SET checked_at = $1, rejected_at = $2
			WHERE org = $3 AND name = $4 AND ciphertext = $5`,
			nullTime(s.CheckedAt), nullTime(s.RejectedAt), org, s.Name, s.Sealed.Ciphertext)
	} else {
		id, ok := storecore.ParseID(workspaceID)
		if !ok {
			return false, nil
		}
		tag, err = db.pool.Exec(ctx, `UPDATE workspace_secrets SET checked_at = $1, rejected_at = $2
			WHERE org = $3 AND workspace_id = $4 AND name = $5 AND ciphertext = $6`,
			nullTime(s.CheckedAt), nullTime(s.RejectedAt), org, id, s.Name, s.Sealed.Ciphertext)
	}
	if err != nil {
		return false, fmt.Errorf("record secret check %s: %w", s.Name, err)
	}
	return tag.RowsAffected() > 0, nil
}

// nullTime returns t rounded to microseconds, or nil (NULL) for the zero time.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = storecore.Micro(t)
	return &t
}

// zeroTime returns *t in UTC, or the zero time for nil (NULL).
func zeroTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// setOrgSecretSQL upserts the secret $2 of org $1 unless $6 is positive,
// the org has no secret of that name and already holds $6 secrets, and
// answers how many it wrote (0 or 1). $7 is the time of the value's live
// check (NULL: unchecked); a new value clears an earlier rejection. The org's row is inserted only with
// the secret: a refused call writes nothing.
const setOrgSecretSQL = `WITH allowed AS (
	SELECT WHERE $6::integer <= 0
		OR EXISTS (SELECT FROM org_secrets WHERE org = $1 AND name = $2)
		OR (SELECT count(*) FROM org_secrets WHERE org = $1) < $6::integer
), written AS (
	INSERT INTO org_secrets (org, name, key_id, ciphertext, created_at, updated_at, checked_at, rejected_at)
	SELECT $1::text, $2::text, $3::text, $4::bytea, $5::timestamptz, $5::timestamptz, $7::timestamptz, NULL FROM allowed
	ON CONFLICT (org, name) DO UPDATE
	SET key_id = excluded.key_id, ciphertext = excluded.ciphertext, updated_at = excluded.updated_at,
		checked_at = excluded.checked_at, rejected_at = NULL
	RETURNING org
), new_org AS (
	INSERT INTO orgs (org, created_at) SELECT org, $5 FROM written ON CONFLICT (org) DO NOTHING
)
SELECT count(*)::integer FROM written`

// ListOrgSecrets returns one page of the names and update times of the
// org's secrets ordered by name, never their values, and the cursor of the
// next page ("" on the last page). It returns EInvalidArgument for a limit
// outside 1..200 or a malformed cursor, and a wrapped error if the database
// fails.
func (db *DB) ListOrgSecrets(ctx context.Context, org string, f modelgate.SecretFilter) ([]modelgate.SecretInfo, string, error) {
	if err := storecore.CheckSecretFilter(f); err != nil {
		return nil, "", err
	}
	after, err := storecore.DecodeSecretCursor(f.Cursor)
	if err != nil {
		return nil, "", err
	}
	rows, err := db.pool.Query(ctx, `SELECT name, updated_at FROM org_secrets
		WHERE org = $1 AND name > $2 ORDER BY name LIMIT $3`, org, after, f.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list org secrets: %w", err)
	}
	infos, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (modelgate.SecretInfo, error) {
		var i modelgate.SecretInfo
		err := r.Scan(&i.Name, &i.UpdatedAt)
		i.UpdatedAt = i.UpdatedAt.UTC()
		return i, err
	})
	if err != nil {
		return nil, "", fmt.Errorf("list org secrets: %w", err)
	}
	infos, next := storecore.PageSecrets(infos, f.Limit)
	return infos, next, nil
}

// DeleteOrgSecret deletes the org's secret of that name; deleted is false if
// there was none. It returns a wrapped error if the database fails. The
// ListenOrgSecrets calls of db hear of the org before it returns.
func (db *DB) DeleteOrgSecret(ctx context.Context, org, name string) (bool, error) {
	defer db.orgSecretChanges.Publish(org)
	tag, err := db.pool.Exec(ctx, `DELETE FROM org_secrets WHERE org = $1 AND name = $2`, org, name)
	if err != nil {
		return false, fmt.Errorf("delete org secret %s: %w", name, err)
	}
	return tag.RowsAffected() > 0, nil
}

// RotateSecrets reseals every org and workspace secret, of every org, whose
// key id is not currentKeyID: it calls reseal with the scope ("org" or
// "workspace"), the owner (the org, or org + "/" + workspace id: the
// context the value is sealed to) and the name, and writes the result, in
// transactions of up to 100 secrets that each lock the rows they reseal. It
// returns how many secrets it resealed and wrote. If reseal or the database
// fails it stops and returns the count written so far with a wrapped error
// that names the secret (never its value); the batch that failed is not
// written. It returns EInvalidArgument for an empty currentKeyID or a nil
// reseal. The ListenOrgSecrets calls of db hear changed("") before it
// returns.
func (db *DB) RotateSecrets(ctx context.Context, currentKeyID string, reseal func(scope, owner, name string, s modelgate.Sealed) (modelgate.Sealed, error)) (int, error) {
	// A resealed value names the same key, but what a reader derived from
	// the old ciphertext is forgotten all the same, for every org.
	defer db.orgSecretChanges.Publish("")
	return storecore.RotateSecrets(currentKeyID, reseal, func(t storecore.SecretTable, after *storecore.SealedRow) (int, *storecore.SealedRow, error) {
		return db.rotateBatch(ctx, t, currentKeyID, after, reseal)
	}, orgSecretTable, workspaceSecretTable)
}

// orgSecretTable and workspaceSecretTable are the statements of
// RotateSecrets, with the arguments storecore.SecretTable describes as $1,
// $2, …; the selects lock the rows they return until the batch commits.
var orgSecretTable = storecore.SecretTable{
	Scope: modelgate.ScopeOrg,
	First: `SELECT org, '', name, key_id, ciphertext FROM org_secrets
		WHERE key_id <> $1 ORDER BY org, name LIMIT $2 FOR UPDATE`,
	Next: `SELECT org, '', name, key_id, ciphertext FROM org_secrets
		WHERE key_id <> $1 AND (org, name) > ($3, $4) ORDER BY org, name LIMIT $2 FOR UPDATE`,
	Update: `UPDATE org_secrets SET key_id = $3, ciphertext = $4 WHERE org = $1 AND name = $2`,
	Key:    func(r *storecore.SealedRow) []any { return []any{r.Org, r.Name} },
}

var workspaceSecretTable = storecore.SecretTable{
	Scope: modelgate.ScopeWorkspace,
	First: `SELECT org, workspace_id::text, name, key_id, ciphertext FROM workspace_secrets
		WHERE key_id <> $1 ORDER BY org, workspace_id, name LIMIT $2 FOR UPDATE`,
	Next: `SELECT org, workspace_id::text, name, key_id, ciphertext FROM workspace_secrets
		WHERE key_id <> $1 AND (org, workspace_id, name) > ($3, $4::uuid, $5)
		ORDER BY org, workspace_id, name LIMIT $2 FOR UPDATE`,
	Update: `UPDATE workspace_secrets SET key_id = $4, ciphertext = $5
		WHERE org = $1 AND workspace_id = $2 AND name = $3`,
	Key: func(r *storecore.SealedRow) []any { return []any{r.Org, r.WorkspaceID, r.Name} },
}

// rotateBatch reseals the next batch of t after the row after (nil: from
// the start) in one transaction. It returns how many it wrote and the last
// row of the batch, nil when there are no more.
func (db *DB) rotateBatch(ctx context.Context, t storecore.SecretTable, currentKeyID string, after *storecore.SealedRow,
	reseal storecore.ResealFunc) (int, *storecore.SealedRow, error) {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return 0, nil, err
	}
	defer tx.Rollback(ctx)

	batch, err := staleSecrets(ctx, tx, t, currentKeyID, after)
	if err != nil || len(batch) == 0 {
		return 0, nil, err
	}
	b := &pgx.Batch{}
	for _, r := range batch {
		s, err := storecore.Reseal(t.Scope, r, reseal)
		if err != nil {
			return 0, nil, err
		}
		b.Queue(t.Update, append(t.Key(r), s.KeyID, s.Ciphertext)...)
	}
	if err := execBatch(ctx, tx, b); err != nil {
		return 0, nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, nil, err
	}
	return len(batch), batch[len(batch)-1], nil
}

func staleSecrets(ctx context.Context, tx pgx.Tx, t storecore.SecretTable, currentKeyID string, after *storecore.SealedRow) ([]*storecore.SealedRow, error) {
	sql, args := t.First, []any{currentKeyID, storecore.RotateBatchSize}
	if after != nil {
		sql, args = t.Next, append(args, t.Key(after)...)
	}
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (*storecore.SealedRow, error) {
		var s storecore.SealedRow
		err := r.Scan(&s.Org, &s.WorkspaceID, &s.Name, &s.Sealed.KeyID, &s.Sealed.Ciphertext)
		return &s, err
	})
}
