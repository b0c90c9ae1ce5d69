package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// migrationFiles holds the schema, one file per version: NNNN_name.sql.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one versioned schema change.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations returns the embedded migrations in version order. It
// returns an error if a file is misnamed or the versions are not 1, 2, 3…
func loadMigrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries { // ReadDir sorts by name
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || path.Ext(e.Name()) != ".sql" {
			return nil, fmt.Errorf("migration file %s: want NNNN_name.sql", e.Name())
		}
		if v != len(ms)+1 {
			return nil, fmt.Errorf("migration file %s: want version %d", e.Name(), len(ms)+1)
		}
		b, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	return ms, nil
}

// Migrate applies the migrations the database does not have yet, all in one
// transaction, and returns the schema version. It is idempotent and safe to
// run from several processes at once: a transaction-scoped advisory lock,
// keyed by the schema, makes them take turns, and each finds what the
// previous one applied in schema_migrations. It creates Options.Schema if it
// is set and missing. On error nothing is applied and the version is 0.
func (db *DB) Migrate(ctx context.Context) (version int, err error) {
	ms, err := loadMigrations()
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback(ctx)

	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, "modelgate.migrate:"+db.schema); err != nil {
		return 0, fmt.Errorf("migrate: lock: %w", err)
	}
	if db.schema != "" {
		if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{db.schema}.Sanitize()); err != nil {
			return 0, fmt.Errorf("migrate: create schema: %w", err)
		}
	}
	current, err := schemaVersion(ctx, tx)
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	if current > len(ms) {
		db.log.Warn().Int("version", current).Int("known", len(ms)).Str("schema", db.schema).Msg("database schema is newer than this binary")
	}
	for _, m := range ms[min(current, len(ms)):] {
		if err := applyMigration(ctx, tx, m); err != nil {
			return 0, fmt.Errorf("migrate: %s: %w", m.name, err)
		}
		db.log.Info().Int("version", m.version).Str("migration", m.name).Str("schema", db.schema).Msg("applied migration")
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	return max(current, len(ms)), nil
}

// schemaVersion creates the bookkeeping table if missing and returns the
// highest applied version (0 for a new database).
func schemaVersion(ctx context.Context, tx pgx.Tx) (int, error) {
	// schema_migrations is the one table without an org: it describes the
	// schema, not a tenant. Written only by Migrate.
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer     NOT NULL PRIMARY KEY,
		name       text        NOT NULL,
		applied_at timestamptz NOT NULL
	)`); err != nil {
		return 0, err
	}
	var v int
	err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

func applyMigration(ctx context.Context, tx pgx.Tx, m migration) error {
	// Without arguments pgx uses the simple protocol, which runs a file of
	// several statements.
	if _, err := tx.Exec(ctx, m.sql); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
		m.version, m.name, now())
	return err
}
