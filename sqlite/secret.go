package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/internal/storecore"
)

// orgSecretNamesSQL reads the names of an org's secrets that no provider
// rejected (prepared once: discovery and the gate's callers run it often).
const orgSecretNamesSQL = `SELECT name FROM org_secrets WHERE org = ? AND rejected_at IS NULL ORDER BY name`

// orgSecretsSQL reads an org's sealed secrets: the one query of the gate,
// discovery and the backstop (provision.Service.OrgCredentials), prepared
// once.
const orgSecretsSQL = `SELECT name, key_id, ciphertext, checked_at, rejected_at FROM org_secrets WHERE org = ? ORDER BY name`

// OrgSecretNames returns the names of the org's secrets that no provider
// rejected, ordered by name, in one query. It returns a wrapped error if the
// database fails.
func (db *DB) OrgSecretNames(ctx context.Context, org string) ([]string, error) {
	stmt, err := db.orgSecretNamesStmt.get(ctx, db.read)
	if err != nil {
		return nil, fmt.Errorf("org secret names: %w", err)
	}
	rows, err := stmt.QueryContext(ctx, org)
	if err != nil {
		return nil, fmt.Errorf("org secret names: %w", err)
	}
	names, err := collect(rows, func(r *sql.Rows) (string, error) {
		var n string
		err := r.Scan(&n)
		return n, err
	})
	if err != nil {
		return nil, fmt.Errorf("org secret names: %w", err)
	}
	return names, nil
}

// SecretKeyIDs returns the distinct key ids of every stored secret, sorted.
// It returns a wrapped error if the database fails.
func (db *DB) SecretKeyIDs(ctx context.Context) ([]string, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT key_id FROM org_secrets UNION SELECT key_id FROM workspace_secrets ORDER BY key_id`)
	if err != nil {
		return nil, fmt.Errorf("secret key ids: %w", err)
	}
	ids, err := collect(rows, func(r *sql.Rows) (string, error) {
		var id string
		err := r.Scan(&id)
		return id, err
	})
	if err != nil {
		return nil, fmt.Errorf("secret key ids: %w", err)
	}
	return ids, nil
}

// OrgSecrets returns the org's sealed secrets ordered by name, with the
// verdicts of their last checks. It returns a wrapped error if the database
// fails.
func (db *DB) OrgSecrets(ctx context.Context, org string) ([]modelgate.SealedSecret, error) {
	stmt, err := db.orgSecretsStmt.get(ctx, db.read)
	if err != nil {
		return nil, fmt.Errorf("org secrets: %w", err)
	}
	rows, err := stmt.QueryContext(ctx, org)
	if err != nil {
		return nil, fmt.Errorf("org secrets: %w", err)
	}
	secrets, err := collect(rows, func(r *sql.Rows) (modelgate.SealedSecret, error) {
		var s modelgate.SealedSecret
		err := r.Scan(&s.Name, &s.Sealed.KeyID, &s.Sealed.Ciphertext, zeroTimeCol{&s.CheckedAt}, zeroTimeCol{&s.RejectedAt})
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
// before it returns. The count runs in the write transaction, so no
// other insert can slip in between.
func (db *DB) SetOrgSecret(ctx context.Context, org string, s modelgate.SealedSecret, max int) (modelgate.SecretInfo, error) {
	if err := storecore.CheckOrg(org); err != nil {
		return modelgate.SecretInfo{}, err
	}
	if err := storecore.CheckSecrets([]modelgate.SealedSecret{s}); err != nil {
		return modelgate.SecretInfo{}, err
	}
	// Reported once the transaction has ended, committed or not.
	defer db.orgSecretChanges.Publish(org)
	at := storecore.Now()
	tx, err := db.begin(ctx)
	if err != nil {
		return modelgate.SecretInfo{}, fmt.Errorf("set org secret: %w", err)
	}
	defer tx.Rollback()
	if max > 0 {
		var n, exists int
		if err := tx.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(name = ?), 0) FROM org_secrets WHERE org = ?`,
			s.Name, org).Scan(&n, &exists); err != nil {
			return modelgate.SecretInfo{}, fmt.Errorf("set org secret %s: %w", s.Name, err)
		}
		if exists == 0 && n >= max {
			return modelgate.SecretInfo{}, storecore.SecretLimit(max)
		}
	}
	if err := ensureOrg(ctx, tx, org, at); err != nil {
		return modelgate.SecretInfo{}, fmt.Errorf("set org secret %s: %w", s.Name, err)
	}
	if err := upsertOrgSecret(ctx, tx, org, s, ts(at)); err != nil {
		return modelgate.SecretInfo{}, fmt.Errorf("set org secret %s: %w", s.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return modelgate.SecretInfo{}, fmt.Errorf("set org secret %s: %w", s.Name, err)
	}
	return modelgate.SecretInfo{Name: s.Name, UpdatedAt: at}, nil
}

func upsertOrgSecret(ctx context.Context, tx *sql.Tx, org string, s modelgate.SealedSecret, at string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO org_secrets (org, name, key_id, ciphertext, created_at, updated_at, checked_at, rejected_at)
		VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6, NULL)
		ON CONFLICT (org, name) DO UPDATE
		SET key_id = excluded.key_id, ciphertext = excluded.ciphertext, updated_at = excluded.updated_at,
			checked_at = excluded.checked_at, rejected_at = NULL`,
		org, s.Name, s.Sealed.KeyID, s.Sealed.Ciphertext, at, nullTS(s.CheckedAt))
	return err
}

// RecordSecretCheck sets checked_at and rejected_at of the org secret
// (workspaceID "") or workspace secret named s.Name whose ciphertext is
// still s.Sealed.Ciphertext. It returns false when no row matched (the
// value was replaced or deleted since), and a wrapped error if the database
// fails. The ListenOrgSecrets calls of db hear of an org secret's org
// before it returns.
func (db *DB) RecordSecretCheck(ctx context.Context, org, workspaceID string, s modelgate.SealedSecret) (bool, error) {
	var res sql.Result
	var err error
	if workspaceID == "" {
		defer db.orgSecretChanges.Publish(org) // a verdict decides whether the key is usable
		res, err = db.write.ExecContext(ctx, `UPDATE org_secrets SET checked_at = ?, rejected_at = ?
			WHERE org = ? AND name = ? AND ciphertext = ?`,
			nullTS(s.CheckedAt), nullTS(s.RejectedAt), org, s.Name, s.Sealed.Ciphertext)
	} else {
		id, ok := storecore.ParseID(workspaceID)
		if !ok {
			return false, nil
		}
		res, err = db.write.ExecContext(ctx, `UPDATE workspace_secrets SET checked_at = ?, rejected_at = ?
			WHERE org = ? AND workspace_id = ? AND name = ? AND ciphertext = ?`,
			nullTS(s.CheckedAt), nullTS(s.RejectedAt), org, id, s.Name, s.Sealed.Ciphertext)
	}
	if err != nil {
		return false, fmt.Errorf("record secret check %s: %w", s.Name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("record secret check %s: %w", s.Name, err)
	}
	return n > 0, nil
}

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
	rows, err := db.read.QueryContext(ctx, `SELECT name, updated_at FROM org_secrets
		WHERE org = ? AND name > ? ORDER BY name LIMIT ?`, org, after, f.Limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("list org secrets: %w", err)
	}
	infos, err := collect(rows, func(r *sql.Rows) (modelgate.SecretInfo, error) {
		var i modelgate.SecretInfo
		err := r.Scan(&i.Name, timeCol{&i.UpdatedAt})
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
	res, err := db.write.ExecContext(ctx, `DELETE FROM org_secrets WHERE org = ? AND name = ?`, org, name)
	if err != nil {
		return false, fmt.Errorf("delete org secret %s: %w", name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("delete org secret %s: %w", name, err)
	}
	return n > 0, nil
}

// RotateSecrets reseals every org and workspace secret, of every org, whose
// key id is not currentKeyID: it calls reseal with the scope ("org" or
// "workspace"), the owner (the org, or org + "/" + workspace id: the
// context the value is sealed to) and the name, and writes the result, in
// transactions of up to 100 secrets. It returns how many secrets it
// resealed and wrote. If reseal or the database fails it stops and returns
// the count written so far with a wrapped error that names the secret
// (never its value); the batch that failed is not written. It returns
// EInvalidArgument for an empty currentKeyID or a nil reseal. The
// ListenOrgSecrets calls of db hear changed("") before it returns.
func (db *DB) RotateSecrets(ctx context.Context, currentKeyID string, reseal func(scope, owner, name string, s modelgate.Sealed) (modelgate.Sealed, error)) (int, error) {
	// A resealed value names the same key, but what a reader derived from
	// the old ciphertext is forgotten all the same, for every org.
	defer db.orgSecretChanges.Publish("")
	return storecore.RotateSecrets(currentKeyID, reseal, func(t storecore.SecretTable, after *storecore.SealedRow) (int, *storecore.SealedRow, error) {
		return db.rotateBatch(ctx, t, currentKeyID, after, reseal)
	}, orgSecretTable, workspaceSecretTable)
}

// orgSecretTable and workspaceSecretTable are the statements of
// RotateSecrets, with the arguments storecore.SecretTable describes as ?1,
// ?2, ….
var orgSecretTable = storecore.SecretTable{
	Scope: modelgate.ScopeOrg,
	First: `SELECT org, '', name, key_id, ciphertext FROM org_secrets
		WHERE key_id <> ?1 ORDER BY org, name LIMIT ?2`,
	Next: `SELECT org, '', name, key_id, ciphertext FROM org_secrets
		WHERE key_id <> ?1 AND (org, name) > (?3, ?4) ORDER BY org, name LIMIT ?2`,
	Update: `UPDATE org_secrets SET key_id = ?3, ciphertext = ?4 WHERE org = ?1 AND name = ?2`,
	Key:    func(r *storecore.SealedRow) []any { return []any{r.Org, r.Name} },
}

var workspaceSecretTable = storecore.SecretTable{
	Scope: modelgate.ScopeWorkspace,
	First: `SELECT org, workspace_id, name, key_id, ciphertext FROM workspace_secrets
		WHERE key_id <> ?1 ORDER BY org, workspace_id, name LIMIT ?2`,
	Next: `SELECT org, workspace_id, name, key_id, ciphertext FROM workspace_secrets
		WHERE key_id <> ?1 AND (org, workspace_id, name) > (?3, ?4, ?5)
		ORDER BY org, workspace_id, name LIMIT ?2`,
	Update: `UPDATE workspace_secrets SET key_id = ?4, ciphertext = ?5
		WHERE org = ?1 AND workspace_id = ?2 AND name = ?3`,
	Key: func(r *storecore.SealedRow) []any { return []any{r.Org, r.WorkspaceID, r.Name} },
}

// rotateBatch reseals the next batch of t after the row after (nil: from
// the start) in one transaction. It returns how many it wrote and the last
// row of the batch, nil when there are no more.
func (db *DB) rotateBatch(ctx context.Context, t storecore.SecretTable, currentKeyID string, after *storecore.SealedRow,
	reseal storecore.ResealFunc) (int, *storecore.SealedRow, error) {
	tx, err := db.begin(ctx)
	if err != nil {
		return 0, nil, err
	}
	defer tx.Rollback()

	batch, err := staleSecrets(ctx, tx, t, currentKeyID, after)
	if err != nil || len(batch) == 0 {
		return 0, nil, err
	}
	for _, r := range batch {
		s, err := storecore.Reseal(t.Scope, r, reseal)
		if err != nil {
			return 0, nil, err
		}
		if _, err := tx.ExecContext(ctx, t.Update, append(t.Key(r), s.KeyID, s.Ciphertext)...); err != nil {
			return 0, nil, err
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, nil, err
	}
	return len(batch), batch[len(batch)-1], nil
}

func staleSecrets(ctx context.Context, tx *sql.Tx, t storecore.SecretTable, currentKeyID string, after *storecore.SealedRow) ([]*storecore.SealedRow, error) {
	query, args := t.First, []any{currentKeyID, storecore.RotateBatchSize}
	if after != nil {
		query, args = t.Next, append(args, t.Key(after)...)
	}
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r *sql.Rows) (*storecore.SealedRow, error) {
		var s storecore.SealedRow
		err := r.Scan(&s.Org, &s.WorkspaceID, &s.Name, &s.Sealed.KeyID, &s.Sealed.Ciphertext)
		return &s, err
	})
}
