package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/internal/storecore"
)

const (
	constraintKeyLinkID = "key_links_id"
	constraintKeyLinkPK = "key_links_pkey"
)

// CreateKeyLink stores the link with the hash of its secret, without
// creating the org's row, and in the same statement deletes at most
// modelgate.KeyLinkSweepBatch links, of any org, that expired more than
// modelgate.KeyLinkRetention before the link's creation (index
// key_links_expires_at). Amortising the sweep over creates needs no
// background job and no leader among replicas: the table only grows when
// links are made, and each one made deletes up to a batch of the dead, in
// the round trip and the commit the insert pays anyway. Concurrent creates
// skip the dead rows another create has locked (SKIP LOCKED) instead of
// waiting for it, and never touch a live row: a spend needs expires_at in
// the future, a sweep a day in the past.
//
// When max is positive it first retires the org's oldest live unused links
// beyond the max-1 that expire last (expiry set to the new link's creation;
// index key_links_unused), so with the new one the org holds at most max.
// The retirement runs under an exclusive advisory lock of the org's links,
// taken first in the same batch (one implicit transaction), so concurrent
// creates on any replica see each other's links and never leave the org
// past max. A spend of a link being retired waits for the row and then
// re-checks its condition on the row as committed: after the retirement
// the link has expired and the spend fails; a link spent first no longer
// matches the retirement's used_at IS NULL (re-checked the same way) and
// is skipped.
//
// It returns how many links it retired; EInvalidArgument for an incomplete
// link, ENameConflict if the id is taken, and a wrapped error if the
// database fails; on an error it retires and deletes nothing.
func (db *DB) CreateKeyLink(ctx context.Context, l modelgate.KeyLink, hash []byte, max int) (int, error) {
	l, err := storecore.NewKeyLink(l, hash)
	if err != nil {
		return 0, err
	}
	b := &pgx.Batch{}
	if max > 0 {
		b.Queue(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, "modelgate.key_links:"+db.schema+":"+l.Org)
		b.Queue(retireKeyLinksSQL, l.Org, l.CreatedAt, max-1)
	}
	b.Queue(createKeyLinkSQL, l.Org, l.ID, hash, l.Provider, storecore.JoinNames(l.Names), l.Runtime, l.Model,
		l.TokenPrefix, l.CreatedAt, l.ExpiresAt, l.CreatedAt.Add(-modelgate.KeyLinkRetention), modelgate.KeyLinkSweepBatch)
	br := db.pool.SendBatch(ctx, b)
	var retired pgconn.CommandTag
	if max > 0 {
		if _, err = br.Exec(); err == nil {
			retired, err = br.Exec()
		}
	}
	if err == nil {
		_, err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	switch {
	case violated(err, constraintKeyLinkID), violated(err, constraintKeyLinkPK):
		return 0, storecore.KeyLinkIDTaken()
	case err != nil:
		return 0, fmt.Errorf("create key link: %w", err)
	}
	return int(retired.RowsAffected()), nil
}

// retireKeyLinksSQL expires at $2 the unused links of org $1 that expire
// after $2, all but the $3 that expire last (index key_links_unused). The
// outer WHERE repeats the conditions so that a row changed by a concurrent
// spend is re-checked as committed, not as the subquery saw it.
const retireKeyLinksSQL = `UPDATE key_links SET expires_at = $2
WHERE org = $1 AND used_at IS NULL AND expires_at > $2 AND id IN (SELECT id FROM key_links
	WHERE org = $1 AND used_at IS NULL AND expires_at > $2
	ORDER BY expires_at DESC, id DESC OFFSET $3)`

// createKeyLinkSQL inserts the link $1..$10 and deletes at most $12 links
// of any org that expired before $11.
const createKeyLinkSQL = `WITH swept AS (
	DELETE FROM key_links WHERE id IN (SELECT id FROM key_links
		WHERE expires_at < $11 ORDER BY expires_at LIMIT $12 FOR UPDATE SKIP LOCKED)
)
INSERT INTO key_links (org, id, hash, provider, names, runtime, model, token_prefix, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`

// KeyLinkByID returns the link and its stored hash. It returns ENotFound if
// there is none and a wrapped error if the database fails.
func (db *DB) KeyLinkByID(ctx context.Context, id string) (*modelgate.KeyLink, []byte, error) {
	var l modelgate.KeyLink
	var names string
	var hash []byte
	err := db.pool.QueryRow(ctx, `SELECT org, id, hash, provider, names, runtime, model, token_prefix,
			created_at, expires_at, used_at, used_name FROM key_links WHERE id = $1`, id).
		Scan(&l.Org, &l.ID, &hash, &l.Provider, &names, &l.Runtime, &l.Model, &l.TokenPrefix,
			&l.CreatedAt, &l.ExpiresAt, &l.UsedAt, &l.UsedName)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, storecore.KeyLinkNotFound()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("key link by id: %w", err)
	}
	l.CreatedAt, l.ExpiresAt = l.CreatedAt.UTC(), l.ExpiresAt.UTC()
	if l.UsedAt != nil {
		u := l.UsedAt.UTC()
		l.UsedAt = &u
	}
	l.Names = storecore.SplitNames(names)
	return &l, hash, nil
}

// SpendKeyLink marks the link used at at with name if it is unused and
// expires after at, in one statement (the row lock serialises concurrent
// calls, and the second sees used_at set), so two calls cannot both spend
// it. It returns whether it spent the link, and a wrapped error if the
// database fails.
func (db *DB) SpendKeyLink(ctx context.Context, id, name string, at time.Time) (bool, error) {
	tag, err := db.pool.Exec(ctx, `UPDATE key_links SET used_at = $3, used_name = $2
		WHERE id = $1 AND used_at IS NULL AND expires_at > $3`, id, name, storecore.Micro(at))
	if err != nil {
		return false, fmt.Errorf("spend key link: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// ReleaseKeyLink makes a link spent at exactly at unused again. It returns
// a wrapped error if the database fails.
func (db *DB) ReleaseKeyLink(ctx context.Context, id string, at time.Time) error {
	if _, err := db.pool.Exec(ctx, `UPDATE key_links SET used_at = NULL, used_name = ''
		WHERE id = $1 AND used_at = $2`, id, storecore.Micro(at)); err != nil {
		return fmt.Errorf("release key link: %w", err)
	}
	return nil
}
