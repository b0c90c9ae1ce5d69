// Package postgres implements modelgate.Store on PostgreSQL with pgx; it is
// the production store.
//
// # Design
//
// Each store method is one transaction. A method that runs more than one
// statement begins a transaction, defers its rollback, calls small helpers
// that take the transaction, and commits. A method that needs exactly one
// statement runs it on the pool: PostgreSQL runs a lone statement as its own
// transaction, and the gate relies on OrgSecrets being one query (one
// round trip), not three. Helpers take a querier, so the same helper serves
// both cases.
//
// The first write for an org inserts the org's row in orgs, in the same
// statement: every insert that may be an org's first starts with a
// data-modifying WITH (INSERT INTO orgs … ON CONFLICT DO NOTHING). So
// CreateWorkspace, which inserts the org, the workspace, its secrets and
// the audit entry of its decision, is one statement and one round trip: it
// is the hot path, and for rows this small each statement costs about as
// much as its insert. Org rows are never deleted, so once CreateWorkspace
// has committed an org's row it leaves the org out of later statements.
//
// Races are settled by the database. A read may answer the common case
// first (an idempotency key seen before), but the unique indexes decide name
// conflicts and keys, the foreign key decides whether a parent exists, and
// ClaimWorkspaces locks rows with FOR UPDATE SKIP LOCKED so that concurrent
// provisioners never claim the same row. An org's limits (live workspaces,
// org secrets) are counted and enforced in the inserting transaction under
// an advisory lock of the org; for workspaces the lock is shared while the
// org is far from its limit, so an org's creates still share WAL flushes
// (see insertWorkspaceLimited).
//
// Times are chosen in Go, rounded to microseconds (PostgreSQL's precision)
// and stored in UTC, so what a method returns is exactly what a later read
// returns, and the sqlite store returns the same values. IDs are UUIDs
// chosen in Go; an ID that is not a UUID is reported as not found without a
// query. These rules, with the validation of what is written and the
// keyset cursors, are shared with the sqlite store in internal/storecore.
//
// The schema lives in versioned SQL files under migrations/, embedded in the
// binary and applied by Open under an advisory lock, so that servers starting
// together do not race. Every persisted column is documented there.
//
// After CreateWorkspace commits a row it queues pg_notify('modelgate_provision',
// org), which one goroutine of the DB sends, merging the notifications that
// arrive within a few milliseconds into one statement (see notifier for why
// the creating transaction does not notify itself). ListenProvision turns
// the notifications into wake-ups for a provisioner, which then claims work
// with ClaimWorkspaces. A notification is only a hint: the rows are the
// queue.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/internal/storecore"
)

// Options configures Open. The zero value means the defaults.
type Options struct {
	// Tracer, if not nil, sees every query of every connection (tests use it
	// to count queries).
	Tracer pgx.QueryTracer
	// MaxConns is the size of the connection pool; 0 means pgxpool's
	// default (the greater of 4 and the number of CPUs).
	MaxConns int32
	// Schema, if not empty, is the schema that holds the tables: Open
	// creates it if missing and every connection uses it as its only
	// search_path. Tests use it to give each store its own tables.
	Schema string
	// Log receives migration and listener events. The zero value logs
	// nothing.
	Log zerolog.Logger
}

// DB is a modelgate.Store backed by a PostgreSQL connection pool. It is safe
// for concurrent use.
type DB struct {
	pool   *pgxpool.Pool
	schema string
	// tableSchema is the schema that holds the tables (Options.Schema, or
	// the server's current_schema()), which notifications on a channel
	// shared by the whole database name.
	tableSchema string
	log         zerolog.Logger

	notifier *notifier
	// orgs are the orgs whose row this DB has seen committed.
	orgs orgCache
	// revocations reaches the ListenTokenRevocations calls of db.
	revocations storecore.Fanout
	// orgSecretChanges reaches the ListenOrgSecrets calls of db with the
	// org whose secrets a method of db wrote ("" for any org).
	orgSecretChanges storecore.Fanout

	// closed ends every ListenProvision and the notifier when Close is
	// called.
	closed context.Context
	close  context.CancelFunc
}

var _ modelgate.Store = (*DB)(nil)

// Open connects to the database at url (a PostgreSQL URL or keyword/value
// string), applies pending migrations, and returns the store. It returns an
// error if url is malformed, the database cannot be reached, or a migration
// fails; nothing is left open in that case.
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error may quote the URL, password included.
		return nil, errors.New("postgres: open: malformed database URL")
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if opts.Tracer != nil {
		cfg.ConnConfig.Tracer = opts.Tracer
	}
	if opts.Schema != "" {
		// Set at connection start-up, so it costs no round trip and holds
		// on every connection, including the listener's.
		cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{opts.Schema}.Sanitize()
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	closed, cancel := context.WithCancel(context.Background())
	db := &DB{pool: pool, schema: opts.Schema, log: opts.Log, closed: closed, close: cancel,
		notifier: newNotifier(pool, opts.Log)}
	go db.notifier.run(closed)
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	if err := pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&db.tableSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("postgres: open: %w", err)
	}
	return db, nil
}

// Pool returns the underlying connection pool: the escape hatch for what the
// Store interface does not cover. Closing the DB closes it.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Ping returns an error when the database cannot be reached.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

// Close ends every ListenProvision of db, drops notifications not yet
// sent, and closes the pool. It waits for connections in use to be
// released and always returns nil.
func (db *DB) Close() error {
	db.close()
	<-db.notifier.done
	db.pool.Close()
	return nil
}

// Counts returns the number of rows of every table in the store's schema,
// keyed by table name, read from one snapshot. Tests use it to prove that a
// refused call wrote nothing. It returns an error if a query fails.
func (db *DB) Counts(ctx context.Context) (map[string]int64, error) {
	tx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("counts: %w", err)
	}
	defer tx.Rollback(ctx)
	tables, err := listTables(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("counts: %w", err)
	}
	counts, err := countRows(ctx, tx, tables)
	if err != nil {
		return nil, fmt.Errorf("counts: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("counts: %w", err)
	}
	return counts, nil
}

func listTables(ctx context.Context, q querier) ([]string, error) {
	rows, _ := q.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename`)
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func countRows(ctx context.Context, q querier, tables []string) (map[string]int64, error) {
	b := &pgx.Batch{}
	for _, t := range tables {
		b.Queue(`SELECT count(*) FROM ` + pgx.Identifier{t}.Sanitize())
	}
	br := q.SendBatch(ctx, b)
	defer br.Close()
	counts := make(map[string]int64, len(tables))
	for _, t := range tables {
		var n int64
		if err := br.QueryRow().Scan(&n); err != nil {
			return nil, fmt.Errorf("count %s: %w", t, err)
		}
		counts[t] = n
	}
	return counts, br.Close()
}

// querier is what helpers need from a transaction or the pool: both
// pgx.Tx and *pgxpool.Pool satisfy it.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// text returns the value of a nullable text column, "" for NULL.
func text(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Constraint names the store turns into coded errors.
const (
	constraintLiveName       = "workspaces_live_name"
	constraintWorkspacePK    = "workspaces_pkey"
	constraintIdempotencyKey = "workspaces_idempotency_key"
	constraintParent         = "workspaces_parent_fkey"
	constraintTokenPrefix    = "tokens_prefix"
	constraintTokenPK        = "tokens_pkey"
)

// violated reports whether err is a unique or foreign key violation of the
// named constraint.
func violated(err error, constraint string) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	return (pe.Code == "23505" || pe.Code == "23503") && pe.ConstraintName == constraint
}

// orgCache remembers orgs whose row is known to exist. Rows in orgs are
// never updated or deleted, so an org, once seen, stays valid for the life
// of the DB; each process learns its orgs on its first write for them.
type orgCache struct{ m sync.Map }

func (c *orgCache) known(org string) bool {
	_, ok := c.m.Load(org)
	return ok
}

func (c *orgCache) add(org string) { c.m.Store(org, struct{}{}) }
