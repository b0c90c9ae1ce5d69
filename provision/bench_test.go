package provision_test

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/mcpserver"
	"github.com/modelgate/modelgate/postgres"
	"github.com/modelgate/modelgate/postgres/pgtest"
	"github.com/modelgate/modelgate/sqlite"
	"github.com/modelgate/modelgate/tools"
	"github.com/rs/zerolog"
)

// benchCallers is the concurrency the issue asks for.
const benchCallers = 8

// BenchmarkProvisionWorkspace measures the provision_workspace tool handler
// (argument decoding, gate, insert with its audit row, result encoding) for
// a platform model from 8 concurrent callers, and, in the same run, a bare
// single-row INSERT transaction through pgx on the same server at the same
// concurrency. Target on PostgreSQL: provision ≥ 0.8 × bare.
func BenchmarkProvisionWorkspace(b *testing.B) {
	b.Run("postgres/bare_insert", func(b *testing.B) { pgtest.BareInsert(b, benchCallers) })
	b.Run("postgres/provision_platform", func(b *testing.B) {
		benchProvision(b, pgtest.Open(b, postgres.Options{MaxConns: benchCallers, Log: zerolog.Nop()}))
	})
	b.Run("sqlite/provision_platform", func(b *testing.B) {
		db, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "m.db"), sqlite.Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		benchProvision(b, db)
	})
}

func benchProvision(b *testing.B, store modelgate.Store) {
	log := zerolog.Nop()
	svc := newService(b, store, log)
	h := tools.ProvisionWorkspace(tools.Deps{Service: svc, Log: log}).Handler
	ctx := mcpserver.WithOrg(b.Context(), "bench")
	var n atomic.Int64
	pgtest.SetParallelism(b, benchCallers)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := mcp.CallToolRequest{}
			req.Params.Name = "provision_workspace"
			req.Params.Arguments = map[string]any{"name": fmt.Sprintf("w%d", n.Add(1)), "model": "moonshot/kimi-k2.6"}
			res, err := h(ctx, req)
			if err != nil || res.IsError {
				b.Error(err, res)
				return
			}
		}
	})
}
