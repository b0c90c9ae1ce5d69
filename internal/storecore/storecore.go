// Package storecore holds the rules that both stores (postgres and sqlite)
// apply identically before SQL: validation of the rows they write, ids,
// times rounded to microseconds, keyset cursors, coded errors, the batching
// of secret rotation, and the loading of embedded migrations.
//
// # Design
//
// The two stores must answer every call the same way: the same coded
// error for the same bad argument, the same message, the same cursor for
// the same page. storetest proves that from the outside; this package makes
// it so from the inside, by writing each rule once. A store calls it first,
// then does what only it knows how to do: build the SQL, bind the
// arguments, and turn its driver's errors into the coded errors here.
//
// Nothing here talks to a database or writes SQL (a SecretTable only
// carries a store's own statements). What differs between the stores stays
// in them: how a time is stored (timestamptz in
// PostgreSQL, fixed-width text in SQLite), how a NULL is scanned, which
// constraint a violation names, how a transaction begins.
//
// Times are rounded to microseconds, PostgreSQL's precision, and kept in
// UTC, so what a method returns is exactly what a later read returns, from
// either store. IDs are UUIDs in canonical (lower-case, hyphenated) form; an
// id that is not a UUID names nothing, so a store reports it as not found
// without a query.
package storecore

import (
	"time"

	"github.com/google/uuid"

	"github.com/modelgate/modelgate"
)

// Now returns the current time as the stores write it: in UTC, rounded to
// microseconds.
func Now() time.Time { return Micro(time.Now()) }

// Micro returns t in UTC rounded to microseconds, the precision of both
// stores, so that a time reads back exactly as it was written.
func Micro(t time.Time) time.Time { return t.Round(time.Microsecond).UTC() }

// ParseID returns id in canonical UUID form, or "" and false if id is not a
// UUID.
func ParseID(id string) (string, bool) {
	u, err := uuid.Parse(id)
	if err != nil {
		return "", false
	}
	return u.String(), true
}

// NullText returns nil for "" and s otherwise, as the argument of a
// nullable text column: an optional value that is not given is stored as
// NULL, so that the unique indexes over such columns ignore it.
func NullText(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// CheckOrg returns nil, or EInvalidArgument if org is empty.
func CheckOrg(org string) error {
	if org == "" {
		return modelgate.Errorf(modelgate.EInvalidArgument, "org is required")
	}
	return nil
}
