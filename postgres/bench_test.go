package postgres_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/postgres"
	"github.com/modelgate/modelgate/postgres/pgtest"
)

// benchWriters is how many goroutines insert at once in the benchmarks.
const benchWriters = 8

// BenchmarkCreateWorkspace measures CreateWorkspace on a fresh schema from
// eight goroutines: each call inserts the org (if new), the workspace and
// its status event and notifies provisioners, in one transaction.
func BenchmarkCreateWorkspace(b *testing.B) {
	db := pgtest.Open(b, postgres.Options{MaxConns: benchWriters})
	ctx := context.Background()
	var n atomic.Int64
	pgtest.SetParallelism(b, benchWriters)
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
	pgtest.BareInsert(b, benchWriters)
}
