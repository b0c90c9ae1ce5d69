package sqlite

import "testing"

// SetWALRetryHook makes f run each time Open retries the switch to WAL after
// SQLITE_BUSY, until the test ends. Tests that set it must not be parallel.
func SetWALRetryHook(t *testing.T, f func()) {
	walRetryHook = f
	t.Cleanup(func() { walRetryHook = nil })
}

// SubscribeOrgSecretChanges subscribes f to the org secret changes that
// the methods of db publish, without the poll that reports other
// processes' changes.
func (db *DB) SubscribeOrgSecretChanges(f func(org string)) (cancel func()) {
	return db.orgSecretChanges.Subscribe(f)
}
