//go:build floorsqlite

package main

import (
	"database/sql"
	"flag"
	"fmt"

	_ "modernc.org/sqlite" // the embedded store's engine, as modelgate links it
)

// Built with -tags floorsqlite, mcp-floor is the floor plus the embedded
// store's engine: before it serves, it opens the SQLite file named by
// -sqlite in WAL mode and reads from it, as modelgate's embedded store does
// at start. scripts/bench.sh reports its idle RSS beside modelgate's, so the
// part of modelgate's memory that any MCP server on this engine pays is
// told apart from what modelgate adds. The plain build links no SQLite, so
// the floor itself stays the framework's floor.
func init() {
	path := flag.String("sqlite", "", "open this SQLite file (WAL) and read from it before serving")
	beforeServe = func() error {
		if *path == "" {
			return nil
		}
		db, err := sql.Open("sqlite", *path)
		if err != nil {
			return err
		}
		db.SetMaxOpenConns(1) // held open while serving, like modelgate's
		var mode string
		if err := db.QueryRow("PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
			return fmt.Errorf("-sqlite %s: %w", *path, err)
		}
		if _, err := db.Exec("CREATE TABLE IF NOT EXISTS floor (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"); err != nil {
			return fmt.Errorf("-sqlite %s: %w", *path, err)
		}
		var n int
		if err := db.QueryRow("SELECT count(*) FROM floor WHERE name <> ''").Scan(&n); err != nil {
			return fmt.Errorf("-sqlite %s: %w", *path, err)
		}
		return nil
	}
}
