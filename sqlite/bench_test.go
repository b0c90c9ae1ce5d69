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

// BenchmarkReads measures the queries of every call: the org's secret
// names (list_offered_models, the gate) and a token lookup (a request whose
// token is not cached yet).
func BenchmarkReads(b *testing.B) {
	db := open(b)
	ctx := b.Context()
	if err := db.CreateToken(ctx, modelgate.Token{Prefix: "bench", Org: "acme"}, []byte("h")); err != nil {
		b.Fatal(err)
	}
	b.Run("OrgSecretNames", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := db.OrgSecretNames(ctx, "acme"); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("TokenByPrefix", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, _, err := db.TokenByPrefix(ctx, "bench"); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}
