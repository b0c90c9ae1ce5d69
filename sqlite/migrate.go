package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"

	"github.com/modelgate/modelgate/internal/storecore"
)

// migrationFiles holds the schema, one file per version: NNNN_name.sql. The
// versions match the postgres store's.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrate applies the migrations the database does not have yet, all in one
// transaction, and returns the schema version. It is idempotent and safe to
// run from several processes at once: the transaction begins IMMEDIATE, so
// they take turns, and each finds what the previous one applied in
// schema_migrations. On error nothing is applied and the version is 0.
func (db *DB) Migrate(ctx context.Context) (version int, err error) {
	ms, err := storecore.LoadMigrations(migrationFiles, "migrations")
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	tx, err := db.begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()

	current, err := schemaVersion(ctx, tx)
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	if current > len(ms) {
		db.log.Warn().Int("version", current).Int("known", len(ms)).Msg("database schema is newer than this binary")
	}
	for _, m := range ms[min(current, len(ms)):] {
		if err := applyMigration(ctx, tx, m); err != nil {
			return 0, fmt.Errorf("migrate: %s: %w", m.Name, err)
		}
		db.log.Info().Int("version", m.Version).Str("migration", m.Name).Msg("applied migration")
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	return max(current, len(ms)), nil
}

// schemaCurrent reports whether the database has every migration of this
// binary (or more), reading only: no table is created and no write lock
// taken. A new database reports false, and so does any error, after which
// Migrate decides.
func (db *DB) schemaCurrent(ctx context.Context) (bool, error) {
	ms, err := storecore.LoadMigrations(migrationFiles, "migrations")
	if err != nil {
		return false, err
	}
	var tables, v int
	if err := db.write.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&tables); err != nil || tables == 0 {
		return false, err
	}
	if err := db.write.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return false, err
	}
	if v > len(ms) {
		db.log.Warn().Int("version", v).Int("known", len(ms)).Msg("database schema is newer than this binary")
	}
	return v >= len(ms), nil
}

// schemaVersion creates the bookkeeping table if missing and returns the
// highest applied version (0 for a new database).
func schemaVersion(ctx context.Context, tx *sql.Tx) (int, error) {
	// schema_migrations is the one table without an org: it describes the
	// schema, not a tenant. Written only by Migrate.
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		name       TEXT    NOT NULL,
		applied_at TEXT    NOT NULL
	) STRICT`); err != nil {
		return 0, err
	}
	var v int
	err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

func applyMigration(ctx context.Context, tx *sql.Tx, m storecore.Migration) error {
	// The driver runs every statement of a multi-statement text.
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.Version, m.Name, ts(storecore.Now()))
	return err
}
