package sqlite_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/modelgate/modelgate"
)

// benchWriters is how many goroutines insert at once in the benchmarks.
const benchWriters = 8

// BenchmarkCreateWorkspace measures CreateWorkspace on a fresh file from
// eight goroutines (exactly eight when GOMAXPROCS divides eight, as with
// -cpu=8). SQLite has one writer, so the goroutines take turns: this
// measures the throughput of the write path under contention, not
// parallelism.
func BenchmarkCreateWorkspace(b *testing.B) {
	db := open(b)
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(max(1, benchWriters/runtime.GOMAXPROCS(0)))
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
