package pgtest

import (
	"strings"
	"testing"

	"github.com/modelgate/modelgate/postgres"
)

func TestSchemaURL_OpensAStoreInItsOwnSchema(t *testing.T) {
	t.Parallel()
	url := SchemaURL(t)
	db, err := postgres.Open(t.Context(), url, postgres.Options{})
	if err != nil {
		t.Fatalf("postgres.Open(SchemaURL): %v", err)
	}
	defer db.Close()
	var schema string
	var tables int
	if err := db.Pool().QueryRow(t.Context(), `SELECT current_schema(),
		(SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'workspaces')`).Scan(&schema, &tables); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(schema, "mgtest_") || tables != 1 {
		t.Errorf("store opened in schema %q with %d workspaces tables, want a new mgtest_ schema holding it", schema, tables)
	}
}

func TestWithSearchPath_KeepsTheRestOfTheConnectionString(t *testing.T) {
	t.Parallel()
	for base, want := range map[string]string{
		"postgres://u@h:5432/db":                  "postgres://u@h:5432/db?search_path=s1",
		"postgresql://u@h/db?sslmode=disable":     "postgresql://u@h/db?search_path=s1&sslmode=disable",
		"host=h port=5432 user=u dbname=db":       "host=h port=5432 user=u dbname=db search_path=s1",
		"postgres://u@h/db?search_path=other&x=1": "postgres://u@h/db?search_path=s1&x=1",
	} {
		if got := withSearchPath(base, "s1"); got != want {
			t.Errorf("withSearchPath(%q) = %q, want %q", base, got, want)
		}
	}
}
