package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// migrationFiles holds the schema, one file per version: NNNN_name.sql. The
// versions match the postgres store's.
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
// run from several processes at once: the transaction begins IMMEDIATE, so
// they take turns, and each finds what the previous one applied in
// schema_migrations. On error nothing is applied and the version is 0.
func (db *DB) Migrate(ctx context.Context) (version int, err error) {
	ms, err := loadMigrations()
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
			return 0, fmt.Errorf("migrate: %s: %w", m.name, err)
		}
		db.log.Info().Int("version", m.version).Str("migration", m.name).Msg("applied migration")
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	return max(current, len(ms)), nil
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

func applyMigration(ctx context.Context, tx *sql.Tx, m migration) error {
	// The driver runs every statement of a multi-statement text.
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
		m.version, m.name, ts(now()))
	return err
}
