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

// CreateKeyLink stores the link with the hash of its secret, without
// creating the org's row, and in the same transaction deletes at most
// modelgate.KeyLinkSweepBatch links, of any org, that expired more than
// modelgate.KeyLinkRetention before the link's creation (index
// key_links_expires_at). Amortising the sweep over creates needs no
// background goroutine and no coordination between processes on the file:
// the table only grows when links are made, and each one made deletes up
// to a batch of the dead; the write transaction serialises the sweeps.
//
// When max is positive it first retires the org's oldest live unused links
// beyond the max-1 that expire last (expiry set to the new link's creation;
// index key_links_unused), so with the new one the org holds at most max.
// The one writer makes the retirement, the insert and any spend of a
// retired link happen one after the other: a link spent before is skipped
// (it is used), one retired before cannot be spent after.
//
// It returns how many links it retired; EInvalidArgument for an incomplete
// link, ENameConflict if the id is taken, and a wrapped error if the
// database fails; on an error it retires and deletes nothing.
func (db *DB) CreateKeyLink(ctx context.Context, l modelgate.KeyLink, hash []byte, max int) (int, error) {
	l, err := storecore.NewKeyLink(l, hash)
	if err != nil {
		return 0, err
	}
	var stmts [3]*sql.Stmt
	for i, p := range []*prepared{&db.keyLinkRetireStmt, &db.keyLinkSweepStmt, &db.keyLinkInsertStmt} {
		if stmts[i], err = p.get(ctx, db.write); err != nil {
			return 0, fmt.Errorf("create key link: prepare: %w", err)
		}
	}
	tx, err := db.begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("create key link: %w", err)
	}
	defer tx.Rollback()
	var retired int64
	if max > 0 {
		res, err := tx.StmtContext(ctx, stmts[0]).ExecContext(ctx, l.Org, ts(l.CreatedAt), max-1)
		if err != nil {
			return 0, fmt.Errorf("create key link: retire old links: %w", err)
		}
		if retired, err = res.RowsAffected(); err != nil {
			return 0, fmt.Errorf("create key link: retire old links: %w", err)
		}
	}
	if _, err := tx.StmtContext(ctx, stmts[1]).ExecContext(ctx,
		ts(l.CreatedAt.Add(-modelgate.KeyLinkRetention)), modelgate.KeyLinkSweepBatch); err != nil {
		return 0, fmt.Errorf("create key link: delete old links: %w", err)
	}
	_, err = tx.StmtContext(ctx, stmts[2]).ExecContext(ctx, l.Org, l.ID, hash, l.Provider, storecore.JoinNames(l.Names),
		l.Runtime, l.Model, l.TokenPrefix, ts(l.CreatedAt), ts(l.ExpiresAt))
	if uniqueViolation(err, "key_links.id") {
		return 0, storecore.KeyLinkIDTaken()
	}
	if err != nil {
		return 0, fmt.Errorf("create key link: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("create key link: %w", err)
	}
	return int(retired), nil
}

const (
	// keyLinkRetireSQL expires at ?2 the unused links of org ?1 that
	// expire after ?2, all but the ?3 that expire last (index
	// key_links_unused); LIMIT -1 is no limit, which OFFSET needs.
	keyLinkRetireSQL = `UPDATE key_links SET expires_at = ?2 WHERE id IN (SELECT id FROM key_links
		WHERE org = ?1 AND used_at IS NULL AND expires_at > ?2
		ORDER BY expires_at DESC, id DESC LIMIT -1 OFFSET ?3)`
	// keyLinkSweepSQL deletes the ?2 links that expired first, if they
	// expired before ?1 (index key_links_expires_at).
	keyLinkSweepSQL = `DELETE FROM key_links WHERE id IN (SELECT id FROM key_links
		WHERE expires_at < ?1 ORDER BY expires_at LIMIT ?2)`
	keyLinkInsertSQL = `INSERT INTO key_links (org, id, hash, provider, names, runtime, model,
		token_prefix, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

// KeyLinkByID returns the link and its stored hash. It returns ENotFound if
// there is none and a wrapped error if the database fails.
func (db *DB) KeyLinkByID(ctx context.Context, id string) (*modelgate.KeyLink, []byte, error) {
	var l modelgate.KeyLink
	var names string
	var hash []byte
	err := db.read.QueryRowContext(ctx, `SELECT org, id, hash, provider, names, runtime, model, token_prefix,
			created_at, expires_at, used_at, used_name FROM key_links WHERE id = ?`, id).
		Scan(&l.Org, &l.ID, &hash, &l.Provider, &names, &l.Runtime, &l.Model, &l.TokenPrefix,
			timeCol{&l.CreatedAt}, timeCol{&l.ExpiresAt}, nullTimeCol{&l.UsedAt}, &l.UsedName)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, storecore.KeyLinkNotFound()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("key link by id: %w", err)
	}
	l.Names = storecore.SplitNames(names)
	return &l, hash, nil
}

// SpendKeyLink marks the link used at at with name if it is unused and
// expires after at, in one statement, so two concurrent calls cannot both
// spend it. It returns whether it spent the link, and a wrapped error if
// the database fails.
func (db *DB) SpendKeyLink(ctx context.Context, id, name string, at time.Time) (bool, error) {
	res, err := db.write.ExecContext(ctx, `UPDATE key_links SET used_at = ?3, used_name = ?2
		WHERE id = ?1 AND used_at IS NULL AND expires_at > ?3`, id, name, ts(at))
	if err != nil {
		return false, fmt.Errorf("spend key link: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("spend key link: %w", err)
	}
	return n == 1, nil
}

// ReleaseKeyLink makes a link spent at exactly at unused again. It returns
// a wrapped error if the database fails.
func (db *DB) ReleaseKeyLink(ctx context.Context, id string, at time.Time) error {
	if _, err := db.write.ExecContext(ctx, `UPDATE key_links SET used_at = NULL, used_name = ''
		WHERE id = ? AND used_at = ?`, id, ts(at)); err != nil {
		return fmt.Errorf("release key link: %w", err)
	}
	return nil
}
