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
	_, err = db.pool.Exec(ctx, `WITH new_org AS (
			INSERT INTO orgs (org, created_at) VALUES ($1, $6) ON CONFLICT (org) DO NOTHING
		)
		INSERT INTO tokens (org, prefix, name, hash, read_only, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, t.Org, t.Prefix, t.Name, hash, t.ReadOnly, t.CreatedAt)
	switch {
	case violated(err, constraintTokenPrefix), violated(err, constraintTokenPK):
		return storecore.TokenPrefixTaken(t.Prefix)
	case err != nil:
		return fmt.Errorf("create token %s: %w", t.Prefix, err)
	}
	return nil
}

const tokenCols = `org, prefix, name, read_only, created_at, last_used_at, revoked_at`

func scanToken(row pgx.Row, extra ...any) (*modelgate.Token, error) {
	var t modelgate.Token
	var lastUsed, revoked *time.Time
	dest := append([]any{&t.Org, &t.Prefix, &t.Name, &t.ReadOnly, &t.CreatedAt, &lastUsed, &revoked}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	t.CreatedAt = t.CreatedAt.UTC()
	if lastUsed != nil {
		u := lastUsed.UTC()
		t.LastUsed = &u
	}
	t.Revoked = revoked != nil
	return &t, nil
}

// TokenByPrefix returns the token with the prefix, of whichever org, and
// its stored hash; a revoked token is returned with Revoked set. It returns
// ENotFound if there is no such token and a wrapped error if the database
// fails.
func (db *DB) TokenByPrefix(ctx context.Context, prefix string) (*modelgate.Token, []byte, error) {
	var hash []byte
	t, err := scanToken(db.pool.QueryRow(ctx, `SELECT `+tokenCols+`, hash FROM tokens WHERE prefix = $1`, prefix), &hash)
	if errors.Is(err, pgx.ErrNoRows) {
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
	tag, err := db.pool.Exec(ctx, `UPDATE tokens SET last_used_at = greatest(last_used_at, $2) WHERE prefix = $1`,
		prefix, storecore.Micro(at))
	if err != nil {
		return fmt.Errorf("touch token: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return storecore.TokenNotFound(prefix)
	}
	return nil
}

// ListTokens returns the tokens of the org, or of every org if org is "",
// ordered by org, creation time and prefix. It returns a wrapped error if
// the database fails.
func (db *DB) ListTokens(ctx context.Context, org string) ([]modelgate.Token, error) {
	sql, args := `SELECT `+tokenCols+` FROM tokens ORDER BY org, created_at, prefix`, []any{}
	if org != "" {
		sql, args = `SELECT `+tokenCols+` FROM tokens WHERE org = $1 ORDER BY org, created_at, prefix`, []any{org}
	}
	rows, err := db.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	tokens, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (modelgate.Token, error) {
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
// The ListenTokenRevocations calls of db hear of it before it returns, and
// those of every other store on the database when it has committed. It
// returns ENotFound if there is no such token and a wrapped error if the
// database fails.
func (db *DB) RevokeToken(ctx context.Context, prefix string) error {
	// The NOTIFY is sent when the update commits: revocations are rare, so
	// the serialized commit of a notifying transaction costs nothing here.
	tag, err := db.pool.Exec(ctx, `WITH revoked AS (
			UPDATE tokens SET revoked_at = coalesce(revoked_at, $2) WHERE prefix = $1 RETURNING prefix
		)
		SELECT pg_notify($3, prefix) FROM revoked`, prefix, storecore.Now(), revokeChannel)
	if err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return storecore.TokenNotFound(prefix)
	}
	db.revocations.Publish(prefix)
	return nil
}
