// Package pgtest gives tests a PostgreSQL store of their own: a fresh schema
// on the server at MODELGATE_TEST_DATABASE_URL (default
// postgres://postgres@127.0.0.1:5432/test), dropped when the test ends.
//
// The tests never skip because the server is missing: they fail, unless
// MODELGATE_TEST_SKIP_POSTGRES=1 says to skip them. CI must run them.
package pgtest

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/modelgate/modelgate/postgres"
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
// closed when tb ends. It fails tb when the server cannot be reached.
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
	return db
}

// Exec runs sql in schema on a connection of its own (tests use it to
// break things on purpose).
func Exec(tb testing.TB, schema, sql string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, URL(tb))
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SET search_path TO "+pgx.Identifier{schema}.Sanitize()+"; "+sql); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}
