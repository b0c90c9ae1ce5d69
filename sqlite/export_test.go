package sqlite

import "testing"

// SetWALRetryHook makes f run each time Open retries the switch to WAL after
// SQLITE_BUSY, until the test ends. Tests that set it must not be parallel.
func SetWALRetryHook(t *testing.T, f func()) {
	walRetryHook = f
	t.Cleanup(func() { walRetryHook = nil })
}
