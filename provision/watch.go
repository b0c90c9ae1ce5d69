package provision

import (
	"context"
	"sync"

	"github.com/rs/zerolog"
)

// statusWatch wakes the callers of Service.Wait when the store signals that
// the status of the workspace they wait for changed: the same kind of
// signal that wakes provisioners (LISTEN/NOTIFY on PostgreSQL, in-process
// on SQLite), from the other side of the job.
//
// One listener serves every waiter of the process. It runs while someone
// waits: the first waiter starts it, the last one stops it, so an idle
// server holds no listening connection and a test leaks no goroutine.
type statusWatch struct {
	// listen is the store's ListenStatus, nil if the store has none (the
	// waiters then rely on their slow poll).
	listen func(ctx context.Context, changed func(id string)) error
	log    zerolog.Logger

	mu      sync.Mutex
	waiters map[string]map[chan struct{}]struct{} // by workspace id
	n       int                                   // how many waiters
	stop    context.CancelFunc                    // ends the running listener; nil if none runs
	done    chan struct{}                         // closed when the running listener has returned
}

// subscribe registers a waiter for the workspace id and starts the
// listener if none runs. The returned channel receives a value (at most
// one pending) whenever the workspace may have changed. unsubscribe
// removes the waiter; the last one stops the listener and waits for it.
func (w *statusWatch) subscribe(id string) (changed <-chan struct{}, unsubscribe func()) {
	ch := make(chan struct{}, 1)
	w.mu.Lock()
	if w.waiters[id] == nil {
		w.waiters[id] = map[chan struct{}]struct{}{}
	}
	w.waiters[id][ch] = struct{}{}
	w.n++
	if w.listen != nil && w.stop == nil {
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan struct{})
		w.stop, w.done = stop, done
		go func() {
			defer close(done)
			if err := w.listen(ctx, w.changed); err != nil {
				w.log.Warn().Err(err).Msg("status listener failed; waiters fall back to polling")
			}
		}()
	}
	w.mu.Unlock()

	return ch, func() {
		w.mu.Lock()
		delete(w.waiters[id], ch)
		if len(w.waiters[id]) == 0 {
			delete(w.waiters, id)
		}
		w.n--
		var done chan struct{}
		if w.n == 0 && w.stop != nil {
			w.stop()
			done = w.done
			w.stop, w.done = nil, nil
		}
		w.mu.Unlock()
		if done != nil {
			<-done
		}
	}
}

// changed wakes the waiters of the workspace id, or every waiter for ""
// (the listener (re)started and may have missed changes). It never blocks.
func (w *statusWatch) changed(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	wake := func(chs map[chan struct{}]struct{}) {
		for ch := range chs {
			select {
			case ch <- struct{}{}:
			default:
			}
		}
	}
	if id != "" {
		wake(w.waiters[id])
		return
	}
	for _, chs := range w.waiters {
		wake(chs)
	}
}
