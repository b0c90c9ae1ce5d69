package postgres

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
)

// notifier sends the notifications of the store (the provisioning
// notifications of CreateWorkspace, the status notifications of the methods
// that change a workspace's status), after the transactions that changed
// the rows have committed, from one goroutine.
//
// A NOTIFY inside the creating transaction would be simpler, but
// PostgreSQL serializes the commits of every transaction that notified (it
// holds a database-wide lock from before the commit record is written
// until it is flushed), which defeats group commit: with eight concurrent
// writers CreateWorkspace ran at a third of the rate of a bare INSERT.
// Here the creating transactions never notify. The notifier merges what
// arrives while it is busy into one statement, which is committed without
// waiting for its flush: a notification is a hint, and one lost to a crash
// costs only a delay (listeners wake whenever they reconnect).
type notifier struct {
	pool *pgxpool.Pool
	log  zerolog.Logger

	mu      sync.Mutex
	pending []notification        // in the order they were added
	queued  map[notification]bool // the notifications in pending
	kick    chan struct{}         // has a value when pending may be non-empty
	done    chan struct{}         // closed when run returns
}

// notifyInterval is the least time between two notifying statements: how
// long a wake-up may wait so that it can share a statement with others.
const notifyInterval = 5 * time.Millisecond

// notifySQL sends the payloads of $2 on the channels of $1, pairwise, in
// order, without waiting for the commit to be flushed.
const notifySQL = `SELECT set_config('synchronous_commit', 'off', true), pg_notify(n.channel, n.payload)
	FROM unnest($1::text[], $2::text[]) AS n(channel, payload)`

// notification is one pg_notify.
type notification struct{ channel, payload string }

func newNotifier(pool *pgxpool.Pool, log zerolog.Logger) *notifier {
	return &notifier{pool: pool, log: log, queued: map[notification]bool{}, kick: make(chan struct{}, 1), done: make(chan struct{})}
}

// add queues a notification of payload on channel (one of a kind while it
// waits); it never blocks.
func (n *notifier) add(channel, payload string) {
	k := notification{channel, payload}
	n.mu.Lock()
	if !n.queued[k] {
		n.queued[k] = true
		n.pending = append(n.pending, k)
	}
	n.mu.Unlock()
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// take returns and clears the pending notifications, as the channels and
// the payloads.
func (n *notifier) take() (channels, payloads []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, k := range n.pending {
		channels = append(channels, k.channel)
		payloads = append(payloads, k.payload)
	}
	n.pending = nil
	clear(n.queued)
	return channels, payloads
}

// run sends notifications until ctx ends; what is pending then is dropped.
func (n *notifier) run(ctx context.Context) {
	defer close(n.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.kick:
		}
		channels, payloads := n.take()
		if len(channels) == 0 {
			continue
		}
		if _, err := n.pool.Exec(ctx, notifySQL, channels, payloads); err != nil && ctx.Err() == nil {
			n.log.Warn().Err(err).Int("notifications", len(channels)).Msg("notify listeners: dropped; listeners catch up when they reconnect")
		}
		// Let the next batch gather: under load this turns thousands of
		// notifications a second into a few hundred statements.
		select {
		case <-ctx.Done():
			return
		case <-time.After(notifyInterval):
		}
	}
}
