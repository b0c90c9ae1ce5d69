// Package faulttest holds tests that break a dependency of a running
// modelgate server on purpose and check what its users see: PostgreSQL
// stopped and restarted under a run of concurrent provisions
// (postgres_test.go). They control their own PostgreSQL cluster
// (internal/pgcluster), so they never disturb the shared test server.
// docs/faults.md explains what they measure and reports the numbers.
//
// The package has no code of its own; it exists for its tests.
package faulttest
