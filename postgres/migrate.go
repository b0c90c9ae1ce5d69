package postgres

import (
	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/modelgate/modelgate/internal/storecore"
)

// migrationFiles holds the schema, one file per version: NNNN_name.sql.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrate applies the migrations the database does not have yet, all in one
// transaction, and returns the schema version. It is idempotent and safe to
// run from several processes at once: a transaction-scoped advisory lock,
// keyed by the schema, makes them take turns, and each finds what the
// previous one applied in schema_migrations. It creates Options.Schema if it
// is set and missing. On error nothing is applied and the version is 0.
func (db *DB) Migrate(ctx context.Context) (version int, err error) {
	ms, err := storecore.LoadMigrations(migrationFiles, "migrations")
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
			return 0, fmt.Errorf("migrate: %s: %w", m.Name, err)
		}
		db.log.Info().Int("version", m.Version).Str("migration", m.Name).Str("schema", db.schema).Msg("applied migration")
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

func applyMigration(ctx context.Context, tx pgx.Tx, m storecore.Migration) error {
	// Without arguments pgx uses the simple protocol, which runs a file of
	// several statements.
	if _, err := tx.Exec(ctx, m.SQL); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
		m.Version, m.Name, storecore.Now())
	return err
}
