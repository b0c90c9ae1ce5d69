package postgres

import (
	"context"
	"errors"
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
	return db.listen(ctx, listener{
		channel: revokeChannel,
		name:    ":tokens",
		up:      func() { up(true) },
		down:    func() { up(false) },
		notify: func(prefix string) {
			if prefix != "" {
				revoked(prefix)
			}
		},
		lost: "token revocation listener: connection lost; tokens are looked up on every request until it is back",
	})
}
