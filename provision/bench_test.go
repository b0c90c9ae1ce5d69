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
	"github.com/modelgate/modelgate/provision"
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
//
// provision_platform_limited is provision_platform with the command line's
// default limit of 1,000 live workspaces per org: the orgs fill up to 800
// each, so every create counts up to 800 live workspaces of its org and
// decides under the shared lock (see postgres.insertWorkspaceLimited).
func BenchmarkProvisionWorkspace(b *testing.B) {
	b.Run("postgres/bare_insert", func(b *testing.B) { pgtest.BareInsert(b, benchCallers) })
	b.Run("postgres/provision_platform", func(b *testing.B) {
		benchProvision(b, pgtest.Open(b, postgres.Options{MaxConns: benchCallers, Log: zerolog.Nop()}))
	})
	b.Run("postgres/provision_platform_limited", func(b *testing.B) {
		benchProvisionLimited(b, pgtest.Open(b, postgres.Options{MaxConns: benchCallers, Log: zerolog.Nop()}))
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
	runProvision(b, newService(b, store, zerolog.Nop()), func(int64) string { return "bench" })
}

func benchProvisionLimited(b *testing.B, store modelgate.Store) {
	svc := newService(b, store, zerolog.Nop()).WithLimits(provision.Limits{Workspaces: 1000})
	runProvision(b, svc, func(n int64) string { return fmt.Sprintf("bench %d", n/800) })
}

// runProvision calls the provision_workspace handler from benchCallers
// goroutines; call n acts for org orgOf(n).
func runProvision(b *testing.B, svc *provision.Service, orgOf func(n int64) string) {
	log := zerolog.Nop()
	h := tools.ProvisionWorkspace(tools.Deps{Service: svc, Log: log}).Handler
	var n atomic.Int64
	pgtest.SetParallelism(b, benchCallers)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			req := mcp.CallToolRequest{}
			req.Params.Name = "provision_workspace"
			req.Params.Arguments = map[string]any{"name": fmt.Sprintf("w%d", i), "model": "moonshot/kimi-k2.6"}
			res, err := h(mcpserver.WithOrg(b.Context(), orgOf(i)), req)
			if err != nil || res.IsError {
				b.Error(err, res)
				return
			}
		}
	})
}
