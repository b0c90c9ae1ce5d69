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

// CreateToken stores the token t with the hash of its secret part. A zero
// t.CreatedAt means now; LastUsed and Revoked are ignored (a new token is
// unused and valid). It returns EInvalidArgument for a token without org or
// prefix or an empty hash, ENameConflict if the prefix is taken (by any
// org), and a wrapped error if the database fails.
func (db *DB) CreateToken(ctx context.Context, t modelgate.Token, hash []byte) error {
	t, err := storecore.NewToken(t, hash)
	if err != nil {
		return err
	}
	tx, err := db.begin(ctx)
	if err != nil {
		return fmt.Errorf("create token: %w", err)
	}
	defer tx.Rollback()
	err = insertToken(ctx, tx, t, hash)
	if uniqueViolation(err, "tokens.prefix") {
		return storecore.TokenPrefixTaken(t.Prefix)
	}
	if err != nil {
		return fmt.Errorf("create token %s: %w", t.Prefix, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create token %s: %w", t.Prefix, err)
	}
	return nil
}

func insertToken(ctx context.Context, tx *sql.Tx, t modelgate.Token, hash []byte) error {
	if err := ensureOrg(ctx, tx, t.Org, t.CreatedAt); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO tokens (org, prefix, name, hash, read_only, created_at)
		VALUES (?, ?, ?, ?, ?, ?)`, t.Org, t.Prefix, t.Name, hash, t.ReadOnly, ts(t.CreatedAt))
	return err
}

const tokenCols = `org, prefix, name, read_only, created_at, last_used_at, revoked_at`

const tokenByPrefixSQL = `SELECT ` + tokenCols + `, hash FROM tokens WHERE prefix = ?`

func scanToken(row scanner, extra ...any) (*modelgate.Token, error) {
	var t modelgate.Token
	var revoked *time.Time
	dest := append([]any{&t.Org, &t.Prefix, &t.Name, &t.ReadOnly, timeCol{&t.CreatedAt},
		nullTimeCol{&t.LastUsed}, nullTimeCol{&revoked}}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	t.Revoked = revoked != nil
	return &t, nil
}

// TokenByPrefix returns the token with the prefix, of whichever org, and
// its stored hash; a revoked token is returned with Revoked set. It returns
// ENotFound if there is no such token and a wrapped error if the database
// fails.
func (db *DB) TokenByPrefix(ctx context.Context, prefix string) (*modelgate.Token, []byte, error) {
	stmt, err := db.tokenByPrefixStmt.get(ctx, db.read)
	if err != nil {
		return nil, nil, fmt.Errorf("token by prefix: %w", err)
	}
	var hash []byte
	t, err := scanToken(stmt.QueryRowContext(ctx, prefix), &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, storecore.TokenNotFound(prefix)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("token by prefix: %w", err)
	}
	return t, hash, nil
}

// TouchToken records a use of the token at at (zero means now). The
// recorded time only moves forward, so concurrent uses cannot set it back.
// It returns ENotFound if there is no such token and a wrapped error if the
// database fails.
func (db *DB) TouchToken(ctx context.Context, prefix string, at time.Time) error {
	if at.IsZero() {
		at = storecore.Now()
	}
	res, err := db.write.ExecContext(ctx, `UPDATE tokens SET last_used_at = max(coalesce(last_used_at, ?2), ?2)
		WHERE prefix = ?1`, prefix, ts(at))
	return affectedOne(res, err, "touch token", prefix)
}

// affectedOne turns the result of a one-token update into ENotFound when
// it changed no row.
func affectedOne(res sql.Result, err error, op, prefix string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if n == 0 {
		return storecore.TokenNotFound(prefix)
	}
	return nil
}

// ListTokens returns the tokens of the org, or of every org if org is "",
// ordered by org, creation time and prefix. It returns a wrapped error if
// the database fails.
func (db *DB) ListTokens(ctx context.Context, org string) ([]modelgate.Token, error) {
	query, args := `SELECT `+tokenCols+` FROM tokens ORDER BY org, created_at, prefix`, []any{}
	if org != "" {
		query, args = `SELECT `+tokenCols+` FROM tokens WHERE org = ? ORDER BY org, created_at, prefix`, []any{org}
	}
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	tokens, err := collect(rows, func(r *sql.Rows) (modelgate.Token, error) {
		t, err := scanToken(r)
		if err != nil {
			return modelgate.Token{}, err
		}
		return *t, nil
	})
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return tokens, nil
}

// RevokeToken revokes the token; revoking a revoked token changes nothing.
// The ListenTokenRevocations calls of db hear of it before it returns. It
// returns ENotFound if there is no such token and a wrapped error if the
// database fails.
func (db *DB) RevokeToken(ctx context.Context, prefix string) error {
	res, err := db.write.ExecContext(ctx, `UPDATE tokens SET revoked_at = coalesce(revoked_at, ?2) WHERE prefix = ?1`,
		prefix, ts(storecore.Now()))
	if err := affectedOne(res, err, "revoke token", prefix); err != nil {
		return err
	}
	db.revocations.Publish(prefix)
	return nil
}
