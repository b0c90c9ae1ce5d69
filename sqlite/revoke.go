package sqlite

import (
	"context"
	"errors"
	"time"
)

// changePoll is how often ListenTokenRevocations and ListenOrgSecrets look
// for changes made by other processes on the same file.
const changePoll = 250 * time.Millisecond

// revocationState is what a revocation by another process changes: the
// number of tokens and of revoked tokens. Tokens are never un-revoked, so a
// new revocation always changes it (and so would a deletion).
type revocationState struct{ tokens, revoked int64 }

func (db *DB) readRevocationState(ctx context.Context) (revocationState, error) {
	var s revocationState
	err := db.read.QueryRowContext(ctx, `SELECT count(*), count(revoked_at) FROM tokens`).Scan(&s.tokens, &s.revoked)
	return s, err
}

// ListenTokenRevocations reports token revocations (see
// modelgate.TokenRevocationListener) until ctx ends or db is closed; then
// it returns nil.
//
// RevokeToken of this DB reports its prefix before it returns. Another
// process may revoke a token in the same file (the token revoke command, or
// a second server): SQLite has no notifications across processes, so the
// listener reads the number of tokens and of revoked tokens every 250 ms, a
// query over the small tokens table, and reports revoked("") — forget
// everything — when it changed. A revocation elsewhere therefore reaches
// this process within about 250 ms. If the query fails the feed reports
// up(false) until it succeeds again.
func (db *DB) ListenTokenRevocations(ctx context.Context, up func(bool), revoked func(prefix string)) error {
	if up == nil || revoked == nil {
		return errors.New("listen token revocations: nil callback")
	}
	cancel := db.revocations.Subscribe(revoked)
	defer cancel()
	pollChanges(ctx, db, db.readRevocationState, up, func() { revoked("") },
		"token revocation check failed; tokens are looked up on every request until it succeeds")
	return nil
}

// pollChanges reads the state that other processes' changes change every
// changePoll until ctx ends or db is closed. The first successful read
// calls up(true); a read that differs from the one before calls
// changedAll; a failed read calls up(false) (once, logging failMsg) until
// a read succeeds again, which calls up(true).
func pollChanges[S comparable](ctx context.Context, db *DB, read func(context.Context) (S, error), up func(bool), changedAll func(), failMsg string) {
	live := false
	var last S
	tick := time.NewTicker(changePoll)
	defer tick.Stop()
	for {
		cur, err := read(ctx)
		switch {
		case ctx.Err() != nil:
		case err != nil:
			db.log.Warn().Err(err).Msg(failMsg)
			if live {
				live = false
				up(false)
			}
		case !live:
			live, last = true, cur
			up(true) // forgets everything cached before
		case cur != last:
			last = cur
			changedAll()
		}
		select {
		case <-ctx.Done():
			return
		case <-db.closed:
			return
		case <-tick.C:
		}
	}
}
