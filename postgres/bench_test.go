package postgres_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/postgres"
)

// benchWriters is how many goroutines insert at once in the benchmarks.
const benchWriters = 8

// setParallelism makes b.RunParallel run benchWriters goroutines: exactly
// so when GOMAXPROCS divides benchWriters (run with -cpu=8 to compare).
func setParallelism(b *testing.B) {
	b.SetParallelism(max(1, benchWriters/runtime.GOMAXPROCS(0)))
}

// BenchmarkCreateWorkspace measures CreateWorkspace on a fresh schema from
// eight goroutines: each call inserts the org (if new), the workspace and
// its status event and notifies provisioners, in one transaction.
func BenchmarkCreateWorkspace(b *testing.B) {
	db := open(b, postgres.Options{MaxConns: benchWriters})
	ctx := context.Background()
	var n atomic.Int64
	setParallelism(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			nw := modelgate.NewWorkspace{Workspace: modelgate.Workspace{
				Org: "bench", Name: fmt.Sprintf("w%d", n.Add(1)), Role: "benchmark", Tier: 3,
				Runtime: "claude-code", Model: "claude-sonnet-4-6", Provider: "anthropic-api",
				CredentialScope: modelgate.ScopeOrg,
			}}
			if _, _, err := db.CreateWorkspace(ctx, nw); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkBareInsert is the yardstick for BenchmarkCreateWorkspace: the
// same concurrency and pool size, but each transaction is one INSERT of one
// row into a one-table schema, with nothing else.
func BenchmarkBareInsert(b *testing.B) {
	ctx := context.Background()
	schema := newSchema(b)
	cfg, err := pgxpool.ParseConfig(testURL(b))
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = benchWriters
	cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{schema}.Sanitize()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()+`;
		CREATE TABLE bare (org text NOT NULL, id uuid NOT NULL, name text NOT NULL,
			created_at timestamptz NOT NULL, PRIMARY KEY (org, id))`); err != nil {
		b.Fatal(err)
	}
	var n atomic.Int64
	setParallelism(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, `INSERT INTO bare (org, id, name, created_at) VALUES ($1, $2, $3, now())`,
					"bench", uuid.NewString(), fmt.Sprintf("w%d", n.Add(1)))
				return err
			})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}
