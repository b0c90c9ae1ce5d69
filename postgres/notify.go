package postgres

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
)

// notifier sends the provisioning notifications of CreateWorkspace, after
// the transactions that created the rows have committed, from one
// goroutine.
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
	pending []string        // orgs to notify, in the order they were created
	queued  map[string]bool // the orgs in pending
	kick    chan struct{}   // has a value when pending may be non-empty
	done    chan struct{}   // closed when run returns
}

// notifyInterval is the least time between two notifying statements: how
// long a wake-up may wait so that it can share a statement with others.
const notifyInterval = 5 * time.Millisecond

// notifySQL notifies each org of $2 on channel $1, in order, without
// waiting for the commit to be flushed.
const notifySQL = `SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, org)
	FROM unnest($2::text[]) AS org`

func newNotifier(pool *pgxpool.Pool, log zerolog.Logger) *notifier {
	return &notifier{pool: pool, log: log, queued: map[string]bool{}, kick: make(chan struct{}, 1), done: make(chan struct{})}
}

// add queues a notification for org; it never blocks.
func (n *notifier) add(org string) {
	n.mu.Lock()
	if !n.queued[org] {
		n.queued[org] = true
		n.pending = append(n.pending, org)
	}
	n.mu.Unlock()
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// take returns and clears the pending orgs.
func (n *notifier) take() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	orgs := n.pending
	n.pending = nil
	clear(n.queued)
	return orgs
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
		orgs := n.take()
		if len(orgs) == 0 {
			continue
		}
		if _, err := n.pool.Exec(ctx, notifySQL, provisionChannel, orgs); err != nil && ctx.Err() == nil {
			n.log.Warn().Err(err).Int("orgs", len(orgs)).Msg("notify provisioners: dropped; listeners catch up when they reconnect")
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
