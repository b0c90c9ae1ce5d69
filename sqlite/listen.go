package sqlite

import (
	"context"
	"errors"
)

// ListenProvision calls wake whenever CreateWorkspace of db has created a
// workspace, until ctx ends or db is closed; then it returns nil. It also
// calls wake once when it starts, so work created before it listened is not
// missed. Wake-ups that arrive while wake runs are merged into one: a
// wake-up is a hint that there may be work, and callers claim work with
// ClaimWorkspaces. Only this process's DB signals: another process writing
// the same file does not wake it. It returns an error only if wake is nil.
func (db *DB) ListenProvision(ctx context.Context, wake func()) error {
	if wake == nil {
		return errors.New("listen provision: wake is nil")
	}
	ch := make(chan struct{}, 1)
	db.mu.Lock()
	db.listeners[ch] = struct{}{}
	db.mu.Unlock()
	defer func() {
		db.mu.Lock()
		delete(db.listeners, ch)
		db.mu.Unlock()
	}()

	wake()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-db.closed:
			return nil
		case <-ch:
			wake()
		}
	}
}

// signalProvision wakes every ListenProvision of db without blocking: a
// listener that already has a wake-up pending needs no second one.
func (db *DB) signalProvision() {
	db.mu.Lock()
	defer db.mu.Unlock()
	for ch := range db.listeners {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
