package mcpserver_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/modelgate/modelgate/postgres"
)

func databaseURL() string {
	if u := os.Getenv("MODELGATE_TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// freshSchema returns the name of a new schema that is dropped when the
// test ends. PostgreSQL is required: the test fails without it, unless
// MODELGATE_TEST_SKIP_POSTGRES=1.
func freshSchema(t *testing.T) string {
	t.Helper()
	if os.Getenv("MODELGATE_TEST_SKIP_POSTGRES") == "1" {
		t.Skip("MODELGATE_TEST_SKIP_POSTGRES=1")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, databaseURL())
	if err != nil {
		t.Fatalf("PostgreSQL at MODELGATE_TEST_DATABASE_URL is required (MODELGATE_TEST_SKIP_POSTGRES=1 skips): %v", err)
	}
	conn.Close(ctx)
	var b [6]byte
	rand.Read(b[:])
	schema := "mcpserver_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, databaseURL())
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// openPostgres opens a store with its own pool on schema, as one replica
// would; it is closed when the test ends, before the schema is dropped.
func openPostgres(t *testing.T, schema string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(t.Context(), databaseURL(), postgres.Options{Schema: schema, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
