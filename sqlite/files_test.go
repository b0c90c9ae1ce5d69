//go:build unix

package sqlite_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/sqlite"
)

// withUmask runs fn with the process umask set to mask. The umask belongs to
// the process, so the tests that use it do not run in parallel; a umask of 0
// makes them independent of the umask they were started with (SQLite's own
// default mode is 0644 less the umask).
func withUmask(t *testing.T, mask int, fn func()) {
	t.Helper()
	old := syscall.Umask(mask)
	defer syscall.Umask(old)
	fn()
}

// writeAndKeepOpen opens the store at path and writes through it, so that
// SQLite has created the -wal and -shm files, which exist while a
// connection is open. It returns the open store.
func writeAndKeepOpen(t *testing.T, path, name string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if _, _, err := db.CreateWorkspace(t.Context(), modelgate.NewWorkspace{Workspace: modelgate.Workspace{Org: "acme", Name: name, Tier: 1}}); err != nil {
		t.Fatalf("CreateWorkspace: %v", err)
	}
	return db
}

// checkModes fails t unless each of the files exists with mode want.
func checkModes(t *testing.T, want fs.FileMode, paths ...string) {
	t.Helper()
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("stat %s: %v", filepath.Base(p), err)
			continue
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s has mode %04o, want %04o", filepath.Base(p), got, want)
		}
	}
}

func dbFiles(path string) []string { return []string{path, path + "-wal", path + "-shm"} }

func TestOpen_DatabaseFilesAreOnlyForTheOwnerInAnExistingOpenDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "modelgate.db")
	withUmask(t, 0, func() { writeAndKeepOpen(t, path, "w") })
	checkModes(t, 0o600, dbFiles(path)...)
	checkModes(t, 0o755, dir) // an existing directory is the operator's: left as it is
}

func TestOpen_CreatesAMissingDataDirectoryForTheOwnerOnly(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "data", "modelgate")
	path := filepath.Join(dir, "modelgate.db")
	withUmask(t, 0, func() { writeAndKeepOpen(t, path, "w") })
	checkModes(t, 0o700, dir, filepath.Dir(dir))
	checkModes(t, 0o600, dbFiles(path)...)
}

// Files written by an earlier version (0644) lose group and other access
// when the store opens them.
func TestOpen_TakesGroupAndOtherAccessFromExistingDatabaseFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "modelgate.db")
	db := writeAndKeepOpen(t, path, "first")
	for _, p := range dbFiles(path) {
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Reopened while the first handle keeps -wal and -shm in place.
	writeAndKeepOpen(t, path, "second")
	checkModes(t, 0o600, dbFiles(path)...)
	if _, err := db.GetWorkspace(t.Context(), "acme", "no-such-id"); modelgate.ErrorCode(err) != modelgate.ENotFound {
		t.Errorf("the first handle stopped working: %v", err)
	}
}
