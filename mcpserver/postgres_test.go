package mcpserver_test

import (
	"testing"

	"github.com/modelgate/modelgate/postgres"
	"github.com/modelgate/modelgate/postgres/pgtest"
)

// openPostgres opens a store with its own pool on schema (from
// pgtest.Schema), as one replica would; it is closed when the test ends,
// before the schema is dropped.
func openPostgres(t *testing.T, schema string) *postgres.DB {
	t.Helper()
	return pgtest.Open(t, postgres.Options{Schema: schema, MaxConns: 4})
}
