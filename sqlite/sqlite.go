// Package sqlite implements modelgate.Store on an SQLite file with the pure
// Go driver modernc.org/sqlite: the embedded, zero-setup store.
//
// # Design
//
// The store behaves exactly like the postgres store (both pass storetest);
// what differs is how it gets there.
//
// SQLite allows one writer at a time. The store therefore keeps two pools:
// a writer of exactly one connection, whose transactions begin IMMEDIATE
// (they take the write lock at BEGIN, so a transaction never fails half-way
// with SQLITE_BUSY when it first writes), and a pool of read-only
// connections. Writers wait for the one connection in Go, in order, instead
// of sleeping in SQLite's busy handler; the busy timeout still covers other
// processes opening the same file. The journal is WAL, so readers never
// wait for the writer, and synchronous=FULL, so a committed transaction
// survives a power loss as it does in PostgreSQL.
//
// Because write transactions are serialized, a write method may read and
// then decide: CreateWorkspace looks up the idempotency key and the parent
// before it inserts, CreateWorkspace and SetOrgSecret count the org's rows
// against its limit, and ClaimWorkspaces selects rows and then leases them.
// The unique indexes still stand behind every such check.
//
// Each store method is one transaction: a method that runs more than one
// statement begins one on the writer (or, for Counts, a read transaction),
// defers its rollback, calls small helpers that take it, and commits; a
// method of one statement runs it alone, which SQLite makes a transaction.
//
// Times are chosen in Go, rounded to microseconds and stored as fixed-width
// UTC text, so they compare as text, and read back exactly as the postgres
// store returns them. IDs are canonical lower-case UUID text. These rules,
// with the validation of what is written and the keyset cursors, are
// shared with the postgres store in internal/storecore.
//
// CreateWorkspace signals the ListenProvision calls of the same DB after it
// commits a new row: an in-process stand-in for PostgreSQL's NOTIFY.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/internal/storecore"
)

// Options configures Open. The zero value means the defaults.
type Options struct {
	// Log receives migration events. The zero value logs nothing.
	Log zerolog.Logger
}

// DB is a modelgate.Store backed by one SQLite file. It is safe for
// concurrent use; other processes may open the same file.
type DB struct {
	write *sql.DB // one connection; every transaction begins IMMEDIATE
	read  *sql.DB // read-only connections
	log   zerolog.Logger

	mu        sync.Mutex
	listeners map[chan struct{}]struct{}
	// statusListeners are the changed functions of the running
	// ListenStatus calls.
	statusListeners map[*func(id string)]struct{}
	closed          chan struct{} // closed by Close; ends every ListenProvision and ListenStatus
	closeOnce       sync.Once

	// revocations reaches the ListenTokenRevocations calls of db.
	revocations storecore.Fanout
	// orgSecretChanges reaches the ListenOrgSecrets calls of db with the
	// org whose secrets a method of db wrote ("" for any org).
	orgSecretChanges storecore.Fanout

	// The hot reads, prepared on first use.
	orgSecretNamesStmt, orgSecretsStmt, tokenByPrefixStmt prepared
	// The statements of CreateKeyLink, on the writer: one refusal runs
	// all three.
	keyLinkRetireStmt, keyLinkSweepStmt, keyLinkInsertStmt prepared
}

var _ modelgate.Store = (*DB)(nil)

// busyTimeout is how long a connection waits for a lock held by another
// process before it fails with SQLITE_BUSY.
const busyTimeout = 10 * time.Second

// Open opens (creating if missing) the database file at path, applies
// pending migrations and returns the store. The file and its -wal and -shm
// files are readable by their owner only (0600), and a missing directory is
// created for the owner only (0700); see prepareFile. It returns an error if
// the directory or file cannot be created or opened or a migration fails;
// nothing is left open in that case.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: open: empty path")
	}
	if err := prepareFile(path, opts.Log); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	write, err := sql.Open("sqlite", dsn(path, url.Values{
		"_txlock":       {"immediate"},
		"_synchronous":  {"FULL"},
		"_foreign_keys": {"1"},
		"_busy_timeout": {fmt.Sprint(busyTimeout.Milliseconds())},
	}))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)

	if err := useWAL(ctx, write); err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db := &DB{write: write, log: opts.Log, listeners: map[chan struct{}]struct{}{}, statusListeners: map[*func(string)]struct{}{},
		closed:             make(chan struct{}),
		orgSecretNamesStmt: prepared{query: orgSecretNamesSQL},
		orgSecretsStmt:     prepared{query: orgSecretsSQL},
		tokenByPrefixStmt:  prepared{query: tokenByPrefixSQL},
		keyLinkRetireStmt:  prepared{query: keyLinkRetireSQL},
		keyLinkSweepStmt:   prepared{query: keyLinkSweepSQL},
		keyLinkInsertStmt:  prepared{query: keyLinkInsertSQL}}
	// Migrate before the readers connect: they need the file in WAL mode. A
	// current schema costs one read, not a write transaction: a start must
	// not wait for another process's writes.
	if current, err := db.schemaCurrent(ctx); err != nil || !current {
		if _, err := db.Migrate(ctx); err != nil {
			write.Close()
			return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
		}
	}
	read, err := sql.Open("sqlite", dsn(path, url.Values{
		"_query_only":   {"1"},
		"_foreign_keys": {"1"},
		"_busy_timeout": {fmt.Sprint(busyTimeout.Milliseconds())},
	}))
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	db.read = read
	if err := db.Ping(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return db, nil
}

// prepareFile makes the database private before the driver touches it: it
// creates the file's directory (mode 0700) if missing and the file itself
// with mode 0600, and takes group and other access away from an existing
// file and its -wal and -shm files (an older version created them 0644).
// SQLite creates -wal and -shm with the database file's permissions, so
// they are 0600 too. The umask can only take bits away from 0600, and the
// file is set to exactly 0600 after it is created. It returns an error if
// the directory or the file cannot be created; a mode that cannot be
// changed (another user's file) is logged as a warning.
func prepareFile(path string, log zerolog.Logger) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	// O_EXCL tells this process whether it created the file; another
	// process opening the same new file at once finds it and goes on.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		err = f.Chmod(0o600) // whatever the umask left
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("create database file: %w", err)
		}
		return nil
	case !errors.Is(err, fs.ErrExist):
		return fmt.Errorf("create database file: %w", err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) && p != path {
			continue
		}
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			continue // not a database file; the driver says what is wrong
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
			ev := log.Warn().Str("file", p).Str("mode", fmt.Sprintf("%04o", perm))
			if err := os.Chmod(p, perm&^0o077); err != nil {
				// Another user's file: opening it is still allowed.
				ev.Err(err).Msg("database file is readable by group or others and its mode cannot be changed; chmod it to 0600")
				continue
			}
			ev.Str("new_mode", fmt.Sprintf("%04o", perm&^0o077)).Msg("database file was readable by group or others; access removed")
		}
	}
	return nil
}

// walRetryHook, if set (by tests only), is called each time useWAL is about
// to run the switch again after SQLITE_BUSY.
var walRetryHook func()

// useWAL switches the database file to write-ahead logging (a setting of
// the file, so once is enough). It is done here rather than as a parameter
// of the connection because the switch is the one step of opening that
// SQLite's busy timeout does not cover: the statement first reads the file
// (a shared lock) and then asks for the exclusive lock the switch needs, so
// two processes opening one new file at once can each hold what the other
// waits for. SQLite then fails one of them at once with SQLITE_BUSY instead
// of calling its busy handler, and the documented remedy is to run the
// statement again from the start, after the lock was released. useWAL does
// so, with a short growing pause, until busyTimeout has passed. It returns
// an error if the statement fails otherwise or the file stays in another
// mode.
func useWAL(ctx context.Context, db *sql.DB) error {
	deadline := time.Now().Add(busyTimeout)
	pause := time.Millisecond
	for {
		var mode string
		err := db.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode)
		if err == nil {
			if !strings.EqualFold(mode, "wal") {
				return fmt.Errorf("set journal mode: the file is in %s mode, want wal", mode)
			}
			return nil
		}
		var se *sqlite.Error
		if !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || time.Now().After(deadline) {
			return fmt.Errorf("set journal mode: %w", err)
		}
		if walRetryHook != nil {
			walRetryHook()
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("set journal mode: %w", ctx.Err())
		case <-t.C:
		}
		pause = min(2*pause, 50*time.Millisecond)
	}
}

// dsn returns a file: URI for path (escaped, so any file name works) with
// the driver's parameters.
func dsn(path string, params url.Values) string {
	u := url.URL{Scheme: "file", Path: path, RawQuery: params.Encode()}
	if !strings.HasPrefix(path, "/") {
		u.Opaque = u.EscapedPath()
		u.Path = ""
	}
	return u.String()
}

// SQL returns the read-only connection pool: the escape hatch for reading
// what the Store interface does not cover. Writes through it fail (the
// connections are query_only); closing the DB closes it.
func (db *DB) SQL() *sql.DB { return db.read }

// Ping returns an error when the database file cannot be read or written.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.write.PingContext(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	if err := db.read.PingContext(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

// Close ends every ListenProvision of db and closes the connections. It
// returns the first error of closing them.
func (db *DB) Close() error {
	db.closeOnce.Do(func() { close(db.closed) })
	var errs []error
	db.orgSecretNamesStmt.close()
	db.orgSecretsStmt.close()
	db.tokenByPrefixStmt.close()
	db.keyLinkRetireStmt.close()
	db.keyLinkSweepStmt.close()
	db.keyLinkInsertStmt.close()
	if db.read != nil {
		errs = append(errs, db.read.Close())
	}
	errs = append(errs, db.write.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	return nil
}

// Counts returns the number of rows of every table, keyed by table name,
// read from one snapshot. Tests use it to prove that a refused call wrote
// nothing. It returns an error if a query fails.
func (db *DB) Counts(ctx context.Context) (map[string]int64, error) {
	tx, err := db.read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("counts: %w", err)
	}
	defer tx.Rollback()
	tables, err := listTables(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("counts: %w", err)
	}
	counts := make(map[string]int64, len(tables))
	for _, t := range tables {
		var n int64
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM "`+t+`"`).Scan(&n); err != nil {
			return nil, fmt.Errorf("counts: %s: %w", t, err)
		}
		counts[t] = n
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("counts: %w", err)
	}
	return counts, nil
}

func listTables(ctx context.Context, q querier) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT name FROM sqlite_schema
		WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	return collect(rows, func(r *sql.Rows) (string, error) {
		var name string
		err := r.Scan(&name)
		return name, err
	})
}

// querier is what helpers need from a transaction or a pool: both *sql.Tx
// and *sql.DB satisfy it.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// collect scans every row with fn and closes rows. It returns an empty,
// non-nil slice when there are no rows.
func collect[T any](rows *sql.Rows, fn func(*sql.Rows) (T, error)) ([]T, error) {
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := fn(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// timeLayout is how times are stored: fixed width, so text order is time
// order (for years 0001 to 9999).
const timeLayout = "2006-01-02T15:04:05.000000Z"

// ts returns t as stored.
func ts(t time.Time) string { return storecore.Micro(t).Format(timeLayout) }

// nullTS returns t as stored, or NULL for the zero time.
func nullTS(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ts(t)
}

// zeroTimeCol scans a nullable stored time into *t (the zero time for NULL).
type zeroTimeCol struct{ t *time.Time }

func (c zeroTimeCol) Scan(src any) error {
	if src == nil {
		*c.t = time.Time{}
		return nil
	}
	return timeCol(c).Scan(src)
}

// timeCol scans a stored time into *t.
type timeCol struct{ t *time.Time }

func (c timeCol) Scan(src any) error {
	s, ok := src.(string)
	if !ok {
		return fmt.Errorf("time column holds %T, not text", src)
	}
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return err
	}
	*c.t = t
	return nil
}

// nullTimeCol scans a nullable stored time into *t (nil for NULL).
type nullTimeCol struct{ t **time.Time }

func (c nullTimeCol) Scan(src any) error {
	if src == nil {
		*c.t = nil
		return nil
	}
	var t time.Time
	if err := (timeCol{&t}).Scan(src); err != nil {
		return err
	}
	*c.t = &t
	return nil
}

// uniqueViolation reports whether err is a violation of a unique index or
// primary key whose columns include column (as "table.column"). SQLite
// names the columns in its message: "UNIQUE constraint failed: t.a, t.b".
func uniqueViolation(err error, column string) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	if code := se.Code(); code != sqlite3.SQLITE_CONSTRAINT_UNIQUE && code != sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY {
		return false
	}
	msg := se.Error()
	i := strings.LastIndex(msg, "constraint failed: ")
	if i < 0 {
		return false
	}
	cols, _, _ := strings.Cut(msg[i+len("constraint failed: "):], " (") // the driver appends " (code)"
	for c := range strings.SplitSeq(cols, ", ") {
		if c == column {
			return true
		}
	}
	return false
}

// ensureOrg inserts the org's row if it is missing: the first write for an
// org creates it, in the same transaction.
func ensureOrg(ctx context.Context, tx *sql.Tx, org string, at time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO orgs (org, created_at) VALUES (?, ?) ON CONFLICT (org) DO NOTHING`, org, ts(at))
	return err
}

// begin starts a write transaction: BEGIN IMMEDIATE on the one writer
// connection.
func (db *DB) begin(ctx context.Context) (*sql.Tx, error) {
	return db.write.BeginTx(ctx, nil)
}
