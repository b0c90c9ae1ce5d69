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

// ListenStatus calls changed with the id of each workspace whose status a
// method of db changed (FinishWorkspace, ExpireProvisioning,
// DeprovisionWorkspace), right after the change was committed, until ctx
// ends or db is closed; then it returns nil. It also calls changed("") once
// when it starts: changes before it listened were not signalled, so every
// watcher should look again. As for ListenProvision, only this process's DB
// signals. changed is called from the goroutine of the changing method and
// must not block. It returns an error only if changed is nil.
func (db *DB) ListenStatus(ctx context.Context, changed func(id string)) error {
	if changed == nil {
		return errors.New("listen status: changed is nil")
	}
	key := &changed
	db.mu.Lock()
	db.statusListeners[key] = struct{}{}
	db.mu.Unlock()
	defer func() {
		db.mu.Lock()
		delete(db.statusListeners, key)
		db.mu.Unlock()
	}()

	changed("")
	select {
	case <-ctx.Done():
	case <-db.closed:
	}
	return nil
}

// signalStatus calls every ListenStatus's changed with each id, outside
// the lock.
func (db *DB) signalStatus(ids ...string) {
	db.mu.Lock()
	fs := make([]func(string), 0, len(db.statusListeners))
	for f := range db.statusListeners {
		fs = append(fs, *f)
	}
	db.mu.Unlock()
	for _, f := range fs {
		for _, id := range ids {
			f(id)
		}
	}
}
