package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// Backoff between attempts to re-establish the listener's connection.
const (
	listenBackoffMin = 50 * time.Millisecond
	listenBackoffMax = 10 * time.Second
)

// ListenProvision calls wake whenever a workspace has been created, until
// ctx ends or db is closed; then it returns nil. It listens on its own
// connection (outside the pool) to the channel that CreateWorkspace
// notifies, a few milliseconds after the row is committed. It also calls
// wake once each time it starts listening, at the start and after a
// reconnect, because a notification sent while nobody listened is lost.
// When the connection fails it reconnects with exponential backoff (50ms
// to 10s), logging each failure; it never gives up. A wake-up is a hint
// that there may be work, not a job: callers claim work with
// ClaimWorkspaces, and should also claim now and then without one. Every
// store sharing the database notifies the same channel, so a wake-up may
// come from another schema. It returns an error only if wake is nil.
func (db *DB) ListenProvision(ctx context.Context, wake func()) error {
	if wake == nil {
		return errors.New("listen provision: wake is nil")
	}
	return db.listen(ctx, listener{channel: provisionChannel, up: wake, notify: func(string) { wake() },
		lost: "provision listener: connection lost"})
}

// ListenStatus calls changed with the id of each workspace whose status a
// method of any store on the database changed (FinishWorkspace,
// ExpireProvisioning, DeprovisionWorkspace), a few milliseconds after the
// change was committed, until ctx ends or db is closed; then it returns
// nil. It also calls changed("") each time it starts listening (at the
// start and after a reconnect): changes may have been missed, every
// watcher should look again. It listens on its own connection and
// reconnects as ListenProvision does. changed must not block. It returns an
// error only if changed is nil.
func (db *DB) ListenStatus(ctx context.Context, changed func(id string)) error {
	if changed == nil {
		return errors.New("listen status: changed is nil")
	}
	return db.listen(ctx, listener{channel: statusChannel, up: func() { changed("") }, notify: changed,
		lost: "status listener: connection lost"})
}

// listener is one LISTEN loop of listen: the provisioner's wake-ups, the
// status signals and the token revocations each run one, on a connection
// of its own.
type listener struct {
	channel string
	// name is appended to the connection's application_name ("" for none).
	name string
	// up is called each time LISTEN succeeded (at the start and after a
	// reconnect: notifications sent meanwhile are lost); down, if not nil,
	// when a connection that was listening fails.
	up, down func()
	// notify gets the payload of each notification.
	notify func(payload string)
	// lost is the warning logged when the connection is lost.
	lost string
}

// listen runs l until ctx ends or db is closed; then it returns nil. When
// the connection fails it reconnects with exponential backoff
// (listenBackoffMin to listenBackoffMax), logging each failure, and never
// gives up.
func (db *DB) listen(ctx context.Context, l listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(db.closed, cancel)
	defer stop()

	backoff := listenBackoffMin
	for {
		listening, err := db.listenOnce(ctx, l)
		if listening {
			if l.down != nil {
				l.down()
			}
			backoff = listenBackoffMin
		}
		if ctx.Err() != nil {
			return nil
		}
		db.log.Warn().Err(err).Dur("retry_in", backoff).Msg(l.lost)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, listenBackoffMax)
	}
}

// listenOnce connects, listens and delivers notifications until the
// connection fails or ctx ends. listening reports whether it got as far as
// listening, so that the caller resets its backoff.
func (db *DB) listenOnce(ctx context.Context, l listener) (listening bool, err error) {
	cfg := db.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = db.listenerName() + l.name
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{l.channel}.Sanitize()); err != nil {
		return false, err
	}
	l.up()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, err
		}
		l.notify(n.Payload)
	}
}

// listenerName is the application_name of the listener's connection, so an
// operator (or a test) can find it in pg_stat_activity.
func (db *DB) listenerName() string {
	name := "modelgate-listen"
	if db.schema != "" {
		name += ":" + db.schema
	}
	return name
}
