package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// revokeChannel is the channel RevokeToken notifies, with the token prefix
// as payload, when its transaction commits. Every store sharing the
// database notifies it, whatever its schema: a notification from another
// schema only makes a listener forget a cache entry it did not need to.
const revokeChannel = "modelgate_token_revoked"

// ListenTokenRevocations reports token revocations (see
// modelgate.TokenRevocationListener) until ctx ends or db is closed; then
// it returns nil.
//
// RevokeToken of this DB reports its prefix before it returns. Every other
// store on the database (another replica, the token revoke command) sends
// NOTIFY modelgate_token_revoked in the revoking transaction, which the
// listener receives on a connection of its own (outside the pool) a few
// milliseconds after the commit. It calls up(true) once it listens and
// up(false) when the connection fails; then it reconnects with exponential
// backoff (50ms to 10s), logging each failure, and never gives up. A
// revocation committed while nobody listened is lost, which is why up(true)
// means "forget everything".
func (db *DB) ListenTokenRevocations(ctx context.Context, up func(bool), revoked func(prefix string)) error {
	if up == nil || revoked == nil {
		return errors.New("listen token revocations: nil callback")
	}
	cancel := db.revocations.Subscribe(revoked)
	defer cancel()
	ctx, stopCtx := context.WithCancel(ctx)
	defer stopCtx()
	stop := context.AfterFunc(db.closed, stopCtx)
	defer stop()

	backoff := listenBackoffMin
	for {
		listening, err := db.listenRevocationsOnce(ctx, up, revoked)
		if listening {
			up(false)
			backoff = listenBackoffMin
		}
		if ctx.Err() != nil {
			return nil
		}
		db.log.Warn().Err(err).Dur("retry_in", backoff).Msg("token revocation listener: connection lost; tokens are looked up on every request until it is back")
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, listenBackoffMax)
	}
}

// listenRevocationsOnce connects, listens and reports revocations until the
// connection fails or ctx ends. listening reports whether it called
// up(true).
func (db *DB) listenRevocationsOnce(ctx context.Context, up func(bool), revoked func(string)) (listening bool, err error) {
	cfg := db.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = db.listenerName() + ":tokens"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{revokeChannel}.Sanitize()); err != nil {
		return false, err
	}
	up(true)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, err
		}
		if n.Payload != "" {
			revoked(n.Payload)
		}
	}
}
