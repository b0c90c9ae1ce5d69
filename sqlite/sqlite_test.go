package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/sqlite"
	"github.com/modelgate/modelgate/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// open returns a store in a new file, closed when tb ends.
func open(tb testing.TB) *sqlite.DB {
	tb.Helper()
	return openFile(tb, filepath.Join(tb.TempDir(), "modelgate.db"))
}

// openFile opens (and migrates) the store in path; when tb ends it checks
// the store's integrity and closes it.
func openFile(tb testing.TB, path string) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(tb.Context(), path, sqlite.Options{})
	if err != nil {
		tb.Fatalf("sqlite.Open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	tb.Cleanup(func() { checkIntegrity(tb, db) })
	return db
}

// checkIntegrity fails tb if db breaks an invariant that the writing
// transactions keep instead of foreign keys (see storetest.IntegritySQL).
func checkIntegrity(tb testing.TB, db *sqlite.DB) {
	storetest.CheckIntegrity(tb, func(ctx context.Context, sql string) ([]string, error) {
		rows, err := db.SQL().QueryContext(ctx, sql)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var tables []string
		for rows.Next() {
			var table string
			if err := rows.Scan(&table); err != nil {
				return nil, err
			}
			tables = append(tables, table)
		}
		return tables, rows.Err()
	})
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) modelgate.Store { return open(t) })
}

// TestOrgSecretWrites_PublishBeforeReturning: every write of org secrets
// tells this process's listeners itself, before it returns.
func TestOrgSecretWrites_PublishBeforeReturning(t *testing.T) {
	t.Parallel()
	db := open(t)
	storetest.CheckOrgSecretWritesPublish(t, db, db.SubscribeOrgSecretChanges)
}

// TestStoreReplicas runs the cases of two stores on one file, as two
// processes open it.
func TestStoreReplicas(t *testing.T) {
	storetest.RunReplicas(t, func(t *testing.T) (modelgate.Store, modelgate.Store) {
		path := filepath.Join(t.TempDir(), "modelgate.db")
		return openFile(t, path), openFile(t, path)
	})
}

// schemaVersion is the number of files in migrations/.
const schemaVersion = 6

func TestMigrate_IsIdempotentAndKeepsData(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "modelgate.db")
	db, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	w, _, err := db.CreateWorkspace(ctx, modelgate.NewWorkspace{Workspace: modelgate.Workspace{Org: "acme", Name: "w", Tier: 1}})
	if err != nil {
		t.Fatalf("CreateWorkspace: %v", err)
	}
	for range 3 {
		if v, err := db.Migrate(ctx); err != nil || v != schemaVersion {
			t.Fatalf("Migrate = %d, %v; want %d, nil", v, err, schemaVersion)
		}
	}
	db.Close()

	db, err = sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	got, err := db.GetWorkspace(ctx, "acme", w.ID)
	if err != nil {
		t.Fatalf("GetWorkspace after reopen: %v", err)
	}
	if diff := cmp.Diff(w, got); diff != "" {
		t.Errorf("workspace after reopen (-before +after):\n%s", diff)
	}
	counts, err := db.Counts(ctx)
	if err != nil {
		t.Fatalf("Counts: %v", err)
	}
	want := map[string]int64{"schema_migrations": schemaVersion, "orgs": 1, "workspaces": 1, "workspace_secrets": 0,
		"org_secrets": 0, "tokens": 0, "workspace_events": 0, "audit": 0, "credential_checks": 0, "key_links": 0,
		"org_secret_versions": 0}
	if diff := cmp.Diff(want, counts); diff != "" {
		t.Errorf("Counts (-want +got):\n%s", diff)
	}
}

func TestOpen_ConcurrentOpensOfOneFileDoNotRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "modelgate.db")
	const n = 5
	dbs := make([]*sqlite.DB, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			dbs[i], errs[i] = sqlite.Open(t.Context(), path, sqlite.Options{})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
		} else {
			defer dbs[i].Close()
		}
	}
	if t.Failed() {
		return
	}
	// Every handle writes, and every handle sees every write.
	for i, db := range dbs {
		if _, _, err := db.CreateWorkspace(t.Context(), modelgate.NewWorkspace{Workspace: modelgate.Workspace{Org: "acme", Name: string(rune('a' + i)), Tier: 1}}); err != nil {
			t.Fatalf("CreateWorkspace via handle %d: %v", i, err)
		}
	}
	ws, _, err := dbs[0].ListWorkspaces(t.Context(), "acme", modelgate.WorkspaceFilter{Limit: 10})
	if err != nil || len(ws) != n {
		t.Errorf("ListWorkspaces = %d rows, %v; want %d", len(ws), err, n)
	}
}

// Two processes opening one new file at once both switch it to WAL. SQLite
// does not apply the busy timeout to that switch when the other process
// holds the file's write lock (it answers SQLITE_BUSY at once, to avoid a
// deadlock), so Open must retry it: here another connection holds the write
// lock of a new file and lets go only once Open has been refused once.
func TestOpen_RetriesTheSwitchToWALWhileAnotherProcessHoldsANewFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "modelgate.db")
	other, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := other.BeginTx(t.Context(), nil) // BEGIN IMMEDIATE: the write lock
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	retries := 0
	sqlite.SetWALRetryHook(t, func() {
		if retries++; retries == 1 {
			if err := tx.Rollback(); err != nil {
				t.Error(err)
			}
		}
	})

	db, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err != nil {
		t.Fatalf("Open while another connection held the new file: %v", err)
	}
	defer db.Close()
	if retries == 0 {
		t.Fatal("Open never met the other connection's lock; the test proves nothing")
	}
	var mode string
	if err := db.SQL().QueryRowContext(t.Context(), "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal mode = %q, %v; want wal", mode, err)
	}
}

func TestOpen_PathNeedsNoEscaping(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a dir?x=1#frag", "model gate%20.db")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	defer db.Close()
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the database is not at %q: %v", path, err)
	}
}

func TestListenProvision_EndsWhenTheDBCloses(t *testing.T) {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "modelgate.db"), sqlite.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	wakes := make(chan struct{}, 100)
	done := make(chan error, 1)
	go func() { done <- db.ListenProvision(t.Context(), func() { wakes <- struct{}{} }) }()
	select {
	case <-wakes:
	case <-time.After(10 * time.Second):
		t.Fatal("no wake-up when listening started")
	}
	db.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ListenProvision = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ListenProvision did not return after Close")
	}
	if err := db.ListenProvision(t.Context(), nil); err == nil {
		t.Error("ListenProvision(nil) succeeded, want an error")
	}
}

// undoVersion5SQL undoes migration 5 (the count of org secret changes),
// which storetest.Version1SQL, shared by both dialects, leaves alone.
const undoVersion5SQL = `DROP TRIGGER org_secrets_count_insert;
DROP TRIGGER org_secrets_count_update;
DROP TRIGGER org_secrets_count_delete;
DROP TABLE org_secret_versions`

// Version 1 wrote each workspace's creation as event seq 1; version 2 reads
// it from the workspace row and its migration deletes those rows. A history
// must read the same after the upgrade.
func TestMigrate_FromVersion1KeepsStatusHistories(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "modelgate.db")
	db, err := sqlite.Open(ctx, path, sqlite.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	id, want := storetest.RemovedWorkspace(t, db)
	db.Close()

	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = raw.ExecContext(ctx, undoVersion5SQL+";"+storetest.Version1SQL)
	raw.Close()
	if err != nil {
		t.Fatal(err)
	}

	db = openFile(t, path) // migrates
	var legacy int
	if err := db.SQL().QueryRowContext(ctx, `SELECT count(*) FROM workspace_events WHERE seq = 1`).Scan(&legacy); err != nil || legacy != 0 {
		t.Errorf("creation events left after the migration: %d (%v), want 0", legacy, err)
	}
	got, err := db.StatusChanges(ctx, "acme", id)
	if err != nil {
		t.Fatalf("StatusChanges after the migration: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("StatusChanges after the migration (-want +got):\n%s", diff)
	}

	// A version-1 server writes through a connection of its own.
	storetest.CheckVersion1Change(t, db, func(q string) error {
		raw, err := sql.Open("sqlite", path)
		if err != nil {
			return err
		}
		defer raw.Close()
		_, err = raw.ExecContext(ctx, q)
		return err
	})
}

// TestOpen_CurrentSchemaTakesNoWriteLock opens a database whose schema is
// current while another connection holds its write lock: Open reads the
// schema version instead of beginning a migration transaction, so it does
// not wait for that writer.
func TestOpen_CurrentSchemaTakesNoWriteLock(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "modelgate.db")
	db, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	other, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	defer conn.ExecContext(context.Background(), "ROLLBACK")

	opened := make(chan error, 1)
	go func() {
		db, err := sqlite.Open(context.Background(), path, sqlite.Options{})
		if err == nil {
			db.Close()
		}
		opened <- err
	}()
	select {
	case err := <-opened:
		if err != nil {
			t.Fatalf("Open with the write lock held elsewhere: %v", err)
		}
	case <-time.After(5 * time.Second): // the busy timeout is 10s
		t.Fatal("Open waited for another connection's write lock although the schema is current")
	}
}
