package storecore

import (
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// Migration is one versioned schema change.
type Migration struct {
	// Version is the number the file name starts with: 1, 2, 3…
	Version int
	// Name is the file name, NNNN_name.sql.
	Name string
	// SQL is the content of the file: one or more statements.
	SQL string
}

// LoadMigrations returns the migrations in the directory dir of fsys (a
// store's embedded files), one file per version named NNNN_name.sql, in
// version order. It returns an error if the directory cannot be read, a
// file is misnamed, or the versions are not 1, 2, 3…
func LoadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, e := range entries { // ReadDir sorts by name
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || path.Ext(e.Name()) != ".sql" {
			return nil, fmt.Errorf("migration file %s: want NNNN_name.sql", e.Name())
		}
		if v != len(ms)+1 {
			return nil, fmt.Errorf("migration file %s: want version %d", e.Name(), len(ms)+1)
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	return ms, nil
}
