package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/internal/storecore"
)

// OrgSecretNames returns the names of the org's secrets ordered by name, in
// one query: the one the gate may make. It returns a wrapped error if the
// database fails.
const orgSecretNamesSQL = `SELECT name FROM org_secrets WHERE org = ? ORDER BY name`

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

// OrgSecrets returns the org's sealed secrets ordered by name. It returns a
// wrapped error if the database fails.
func (db *DB) OrgSecrets(ctx context.Context, org string) ([]modelgate.SealedSecret, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT name, key_id, ciphertext FROM org_secrets WHERE org = ? ORDER BY name`, org)
	if err != nil {
		return nil, fmt.Errorf("org secrets: %w", err)
	}
	secrets, err := collect(rows, func(r *sql.Rows) (modelgate.SealedSecret, error) {
		var s modelgate.SealedSecret
		err := r.Scan(&s.Name, &s.Sealed.KeyID, &s.Sealed.Ciphertext)
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("org secrets: %w", err)
	}
	return secrets, nil
}

// SetOrgSecret inserts the secret or replaces the value of the org's secret
// of that name, and returns its name and update time. It returns
// EInvalidArgument for an empty org or name or an unsealed value, and a
// wrapped error if the database fails.
func (db *DB) SetOrgSecret(ctx context.Context, org string, s modelgate.SealedSecret) (modelgate.SecretInfo, error) {
	if err := storecore.CheckOrg(org); err != nil {
		return modelgate.SecretInfo{}, err
	}
	if err := storecore.CheckSecrets([]modelgate.SealedSecret{s}); err != nil {
		return modelgate.SecretInfo{}, err
	}
	at := storecore.Now()
	tx, err := db.begin(ctx)
	if err != nil {
		return modelgate.SecretInfo{}, fmt.Errorf("set org secret: %w", err)
	}
	defer tx.Rollback()
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
	_, err := tx.ExecContext(ctx, `INSERT INTO org_secrets (org, name, key_id, ciphertext, created_at, updated_at)
		VALUES (?1, ?2, ?3, ?4, ?5, ?5)
		ON CONFLICT (org, name) DO UPDATE
		SET key_id = excluded.key_id, ciphertext = excluded.ciphertext, updated_at = excluded.updated_at`,
		org, s.Name, s.Sealed.KeyID, s.Sealed.Ciphertext, at)
	return err
}

// ListOrgSecrets returns the names and update times of the org's secrets
// ordered by name, never their values. It returns a wrapped error if the
// database fails.
func (db *DB) ListOrgSecrets(ctx context.Context, org string) ([]modelgate.SecretInfo, error) {
	rows, err := db.read.QueryContext(ctx, `SELECT name, updated_at FROM org_secrets WHERE org = ? ORDER BY name`, org)
	if err != nil {
		return nil, fmt.Errorf("list org secrets: %w", err)
	}
	infos, err := collect(rows, func(r *sql.Rows) (modelgate.SecretInfo, error) {
		var i modelgate.SecretInfo
		err := r.Scan(&i.Name, timeCol{&i.UpdatedAt})
		return i, err
	})
	if err != nil {
		return nil, fmt.Errorf("list org secrets: %w", err)
	}
	return infos, nil
}

// DeleteOrgSecret deletes the org's secret of that name; deleted is false if
// there was none. It returns a wrapped error if the database fails.
func (db *DB) DeleteOrgSecret(ctx context.Context, org, name string) (bool, error) {
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
// EInvalidArgument for an empty currentKeyID or a nil reseal.
func (db *DB) RotateSecrets(ctx context.Context, currentKeyID string, reseal func(scope, owner, name string, s modelgate.Sealed) (modelgate.Sealed, error)) (int, error) {
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
