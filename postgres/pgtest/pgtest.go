// Package pgtest gives tests a PostgreSQL store of their own: a fresh schema
// on the server at MODELGATE_TEST_DATABASE_URL (default
// postgres://postgres@127.0.0.1:5432/test), dropped when the test ends.
// SchemaURL does the same for a store that a child process opens from a URL.
//
// The tests never skip because the server is missing: they fail, unless
// MODELGATE_TEST_SKIP_POSTGRES=1 says to skip them. CI must run them.
package pgtest

import (
	"context"
	"fmt"
	neturl "net/url"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/modelgate/modelgate/postgres"
	"github.com/modelgate/modelgate/storetest"
)

// DefaultURL is the test server used when MODELGATE_TEST_DATABASE_URL is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// URL returns the test server's URL, or skips tb when
// MODELGATE_TEST_SKIP_POSTGRES=1.
func URL(tb testing.TB) string {
	tb.Helper()
	if os.Getenv("MODELGATE_TEST_SKIP_POSTGRES") == "1" {
		tb.Skip("MODELGATE_TEST_SKIP_POSTGRES=1")
	}
	if u := os.Getenv("MODELGATE_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

// Schema returns the name of a new schema for tb and drops it (with
// everything in it) when tb ends.
func Schema(tb testing.TB) string {
	tb.Helper()
	url := URL(tb)
	schema := "mgtest_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// Open returns a migrated store in a new schema (unless opts names one),
// closed when tb ends, when it also checks, in that schema, the integrity
// the writing transactions keep instead of foreign keys (the check uses a
// connection of its own, so a test may close the store itself). It fails tb
// when the server cannot be reached.
func Open(tb testing.TB, opts postgres.Options) *postgres.DB {
	tb.Helper()
	url := URL(tb)
	if opts.Schema == "" {
		opts.Schema = Schema(tb)
	}
	db, err := postgres.Open(tb.Context(), url, opts)
	if err != nil {
		tb.Fatalf("postgres.Open: %v (is PostgreSQL running at %s? set MODELGATE_TEST_SKIP_POSTGRES=1 to skip)", err, url)
	}
	tb.Cleanup(func() { db.Close() })
	tb.Cleanup(func() { checkIntegrity(tb, url, opts.Schema) })
	return db
}

// checkIntegrity fails tb if the tables in schema break an invariant that
// the writing transactions keep instead of foreign keys (see
// storetest.IntegritySQL).
func checkIntegrity(tb testing.TB, url, schema string) {
	storetest.CheckIntegrity(tb, func(ctx context.Context, sql string) ([]string, error) {
		cfg, err := pgx.ParseConfig(url)
		if err != nil {
			return nil, err
		}
		cfg.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return nil, err
		}
		defer conn.Close(ctx)
		rows, err := conn.Query(ctx, sql)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, pgx.RowTo[string])
	})
}

// SchemaURL returns the test server's URL with search_path set to a new
// schema, which it creates now and drops (with everything in it) when tb
// ends. It is for a store opened from the URL alone, such as the one a child
// process opens: without Options.Schema, postgres.Open does not create the
// schema, so it must exist first. It fails tb when the server cannot be
// reached.
func SchemaURL(tb testing.TB) string {
	tb.Helper()
	url := URL(tb)
	schema := Schema(tb)
	exec(tb, url, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize())
	return withSearchPath(url, schema)
}

// withSearchPath returns the connection string base (a URL or a
// keyword/value string) with search_path set to schema. The schemas of
// Schema need no quoting.
func withSearchPath(base, schema string) string {
	u, err := neturl.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return base + " search_path=" + schema
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Exec runs sql in schema on a connection of its own (tests use it to
// break things on purpose).
func Exec(tb testing.TB, schema, sql string) {
	tb.Helper()
	exec(tb, URL(tb), "SET search_path TO "+pgx.Identifier{schema}.Sanitize()+"; "+sql)
}

// exec runs sql on a connection of its own to the server at url, and fails
// tb if it cannot connect or sql fails.
func exec(tb testing.TB, url, sql string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatalf("connect: %v (is PostgreSQL running at %s? set MODELGATE_TEST_SKIP_POSTGRES=1 to skip)", err, url)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}

// BareInsert runs b.N single-row INSERT transactions through pgx from
// `writers` goroutines on a one-table schema of its own: the yardstick the
// store's write benchmarks are compared with, on the same server at the
// same concurrency.
func BareInsert(b *testing.B, writers int) {
	b.Helper()
	ctx := context.Background()
	schema := Schema(b)
	cfg, err := pgxpool.ParseConfig(URL(b))
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = int32(writers)
	cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()+`;
		CREATE TABLE bare (org text NOT NULL, id uuid NOT NULL, name text NOT NULL,
			created_at timestamptz NOT NULL, PRIMARY KEY (org, id))`); err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	SetParallelism(b, writers)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, `INSERT INTO bare (org, id, name, created_at) VALUES ($1, $2, $3, now())`,
					"bench", uuid.NewString(), fmt.Sprintf("w%d", n.Add(1)))
				return err
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// SetParallelism makes b.RunParallel run `writers` goroutines: exactly so
// when GOMAXPROCS divides writers.
func SetParallelism(b *testing.B, writers int) {
	b.SetParallelism(max(1, writers/runtime.GOMAXPROCS(0)))
}
