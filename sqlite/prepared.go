package sqlite

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
)

// prepared is a statement prepared on first use, for the queries every
// call makes and the statements of a refusal's key link: the driver
// otherwise parses and plans their SQL again each time (issue 12 found
// 12 % of a ping's CPU there).
// database/sql prepares it again on each connection as needed. A failed
// preparation is retried by the next call.
type prepared struct {
	query string
	mu    sync.Mutex
	stmt  atomic.Pointer[sql.Stmt]
}

// get returns the prepared statement.
func (p *prepared) get(ctx context.Context, db *sql.DB) (*sql.Stmt, error) {
	if s := p.stmt.Load(); s != nil {
		return s, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.stmt.Load(); s != nil {
		return s, nil
	}
	s, err := db.PrepareContext(ctx, p.query)
	if err != nil {
		return nil, err
	}
	p.stmt.Store(s)
	return s, nil
}

// close closes the statement if it was prepared.
func (p *prepared) close() {
	if s := p.stmt.Load(); s != nil {
		s.Close()
	}
}
