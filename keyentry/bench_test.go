package keyentry_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/rs/zerolog"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/gate"
	"github.com/modelgate/modelgate/keyentry"
	"github.com/modelgate/modelgate/mcpserver"
	"github.com/modelgate/modelgate/postgres"
	"github.com/modelgate/modelgate/postgres/pgtest"
	"github.com/modelgate/modelgate/provision"
	"github.com/modelgate/modelgate/registry"
	"github.com/modelgate/modelgate/secrets"
	"github.com/modelgate/modelgate/sqlite"
	"github.com/modelgate/modelgate/tools"
)

// BenchmarkRefusal measures a provision_workspace call refused with
// MISSING_BYOK_CREDENTIAL through the tool handler (decode, the gate with
// its one secret-name query, the audit row, the error result), with key
// entry off and on, and one bare link insert, one caller. The claim is that
// a link costs the refusal no more than one insert: (on − off) ≈ link.
//
// The insert is CreateKeyLink as Offer calls it: with the retirement of
// the org's oldest unused links past the cap of live links, and with the
// sweep of long-dead links. The key entry clock moves one TTL per
// iteration, so the org's earlier links have expired and none is retired
// (the retirement looks and finds nothing, as on most refusals) and, after
// a day of such time, each create deletes about as many dead links as it
// adds, as on a long-running server.
//
// The three are timed in turn within every iteration, so the drift of a
// shared machine lands in all three alike; the metrics are the mean of
// each (off-ns, on-ns, insert-ns) and extra/insert = (on − off) / insert.
func BenchmarkRefusal(b *testing.B) {
	for _, st := range benchStores {
		b.Run(st.name, func(b *testing.B) {
			store := st.open(b)
			now := time.Now()
			clock := func() time.Time { return now }
			off, on := refusalHandler(b, store, false, clock), refusalHandler(b, store, true, clock)
			ctx := mcpserver.WithOrg(b.Context(), "bench")
			req := mcp.CallToolRequest{}
			req.Params.Name = "provision_workspace"
			req.Params.Arguments = map[string]any{"name": "w", "runtime": "claude-code", "model": "claude-sonnet-4-6"}
			refuse := func(h server.ToolHandlerFunc, link bool) time.Duration {
				start := time.Now()
				res, err := h(ctx, req)
				if err != nil || !res.IsError {
					b.Fatal(err, res)
				}
				d := time.Since(start)
				if text := res.Content[0].(mcp.TextContent).Text; strings.Contains(text, "add_key_url") != link {
					b.Fatalf("refusal with key entry %v: %s", link, text)
				}
				return d
			}
			var tOff, tOn, tIns time.Duration
			n := 0
			for b.Loop() {
				n++
				now = now.Add(keyentry.DefaultTTL + time.Second)
				tOff += refuse(off, false)
				tOn += refuse(on, true)
				l := modelgate.KeyLink{Org: "bench", ID: fmt.Sprintf("bare%d", n), Provider: "anthropic-api",
					Names: []string{"ANTHROPIC_API_KEY"}, CreatedAt: now, ExpiresAt: now.Add(keyentry.DefaultTTL)}
				start := time.Now()
				if _, err := store.CreateKeyLink(ctx, l, []byte{1}, keyentry.DefaultMaxLiveLinks); err != nil {
					b.Fatal(err)
				}
				tIns += time.Since(start)
			}
			per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(n) }
			b.ReportMetric(per(tOff), "off-ns")
			b.ReportMetric(per(tOn), "on-ns")
			b.ReportMetric(per(tIns), "insert-ns")
			b.ReportMetric((per(tOn)-per(tOff))/per(tIns), "extra/insert")
		})
	}
}

// benchStores are the stores the benchmarks run on, each new and empty.
var benchStores = []struct {
	name string
	open func(b *testing.B) modelgate.Store
}{
	{"sqlite", func(b *testing.B) modelgate.Store {
		db, err := sqlite.Open(b.Context(), b.TempDir()+"/m.db", sqlite.Options{Log: zerolog.Nop()})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		return db
	}},
	{"postgres", func(b *testing.B) modelgate.Store {
		return pgtest.Open(b, postgres.Options{MaxConns: 2, Log: zerolog.Nop()})
	}},
}

// BenchmarkKeyLinkSweep measures the most the sweep of old links adds to a
// link: a CreateKeyLink that deletes a full batch
// (modelgate.KeyLinkSweepBatch links expired longer than the retention),
// against one that finds nothing to delete, which is every create once the
// backlog is gone (BenchmarkRefusal's insert). Every iteration first makes
// a batch of long-dead links, untimed, then times the two creates in turn.
// The metrics are the mean of each (full-ns, empty-ns) and
// full/empty = full-ns / empty-ns.
func BenchmarkKeyLinkSweep(b *testing.B) {
	for _, st := range benchStores {
		b.Run(st.name, func(b *testing.B) {
			store := st.open(b)
			ctx := b.Context()
			now := time.Now().UTC()
			n := 0
			create := func(created, expires time.Time) time.Duration {
				n++
				l := modelgate.KeyLink{Org: "bench", ID: fmt.Sprintf("l%d", n), Provider: "anthropic-api",
					Names: []string{"ANTHROPIC_API_KEY"}, CreatedAt: created, ExpiresAt: expires}
				start := time.Now()
				if _, err := store.CreateKeyLink(ctx, l, []byte{1}, 0); err != nil {
					b.Fatal(err)
				}
				return time.Since(start)
			}
			longAgo := now.Add(-2 * modelgate.KeyLinkRetention)
			var tFull, tEmpty time.Duration
			iters := 0
			for b.Loop() {
				iters++
				for range modelgate.KeyLinkSweepBatch {
					create(longAgo, longAgo.Add(keyentry.DefaultTTL))
				}
				tFull += create(now, now.Add(keyentry.DefaultTTL))
				tEmpty += create(now, now.Add(keyentry.DefaultTTL))
			}
			per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(iters) }
			b.ReportMetric(per(tFull), "full-ns")
			b.ReportMetric(per(tEmpty), "empty-ns")
			b.ReportMetric(per(tFull)/per(tEmpty), "full/empty")
		})
	}
}

func refusalHandler(b *testing.B, store modelgate.Store, keyEntry bool, now func() time.Time) server.ToolHandlerFunc {
	log := zerolog.Nop()
	keys, err := secrets.NewKeyring(testKey)
	if err != nil {
		b.Fatal(err)
	}
	svc := provision.New(store, gate.New(registry.Default(), log), keys, log)
	deps := tools.Deps{Service: svc, Log: log}
	if keyEntry {
		ke := keyentry.New(keyentry.Options{Store: store, Service: svc, BaseURL: "https://modelgate.example.com", Log: log, Now: now})
		ke.Attach(svc)
		deps.KeyEntry = ke
	}
	return tools.ProvisionWorkspace(deps).Handler
}

// BenchmarkKeyLinkRetire measures what the cap of live links adds to a
// link once an org holds keyentry.DefaultMaxLiveLinks unused ones (an agent
// that keeps retrying a refused call): a CreateKeyLink that retires the
// org's oldest link, against one for an org that holds none. The two are
// timed in turn in every iteration; the metrics are the mean of each
// (at-cap-ns, below-ns) and at-cap/below = at-cap-ns / below-ns.
func BenchmarkKeyLinkRetire(b *testing.B) {
	for _, st := range benchStores {
		b.Run(st.name, func(b *testing.B) {
			store := st.open(b)
			ctx := b.Context()
			now := time.Now().UTC()
			n := 0
			create := func(org string) (time.Duration, int) {
				n++
				now = now.Add(time.Millisecond) // a later link, so the oldest is the one retired
				l := modelgate.KeyLink{Org: org, ID: fmt.Sprintf("l%d", n), Provider: "anthropic-api",
					Names: []string{"ANTHROPIC_API_KEY"}, CreatedAt: now, ExpiresAt: now.Add(keyentry.DefaultTTL)}
				start := time.Now()
				retired, err := store.CreateKeyLink(ctx, l, []byte{1}, keyentry.DefaultMaxLiveLinks)
				if err != nil {
					b.Fatal(err)
				}
				return time.Since(start), retired
			}
			for range keyentry.DefaultMaxLiveLinks {
				create("full")
			}
			var tCap, tBelow time.Duration
			iters := 0
			for b.Loop() {
				iters++
				d, retired := create("full")
				if retired != 1 {
					b.Fatalf("a create at the cap retired %d links, want 1", retired)
				}
				tCap += d
				d, _ = create(fmt.Sprintf("org%d", iters))
				tBelow += d
			}
			per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(iters) }
			b.ReportMetric(per(tCap), "at-cap-ns")
			b.ReportMetric(per(tBelow), "below-ns")
			b.ReportMetric(per(tCap)/per(tBelow), "at-cap/below")
		})
	}
}

// BenchmarkPage_WrongSecretAgainstUnknownID times GET of a link page with a
// real link's id and a wrong secret, against one with an id that was never
// made, through the page's handler (no network), in turn within every
// iteration. The metrics are the median of each (wrong-secret-ns,
// unknown-ns) and wrong-secret/unknown = their ratio: how far the answer's
// time tells an existing id from an unknown one.
func BenchmarkPage_WrongSecretAgainstUnknownID(b *testing.B) {
	for _, st := range benchStores {
		b.Run(st.name, func(b *testing.B) {
			store := st.open(b)
			log := zerolog.Nop()
			keys, err := secrets.NewKeyring(testKey)
			if err != nil {
				b.Fatal(err)
			}
			svc := provision.New(store, gate.New(registry.Default(), log), keys, log)
			ke := keyentry.New(keyentry.Options{Store: store, Service: svc, BaseURL: "https://modelgate.example.com", Log: log})
			missing := (&modelgate.Error{Code: modelgate.EMissingCredential}).WithDetail("auth_env", []string{"ANTHROPIC_API_KEY"})
			l := ke.Offer(b.Context(), modelgate.Caller{Org: "bench"}, missing)
			if l == nil {
				b.Fatal("no link made")
			}
			tok := l.URL[strings.LastIndex(l.URL, "/")+1:]
			wrong := tok[:len(tok)-4] + flip(tok[len(tok)-4:])
			unknown := "mgk_" + strings.Repeat("a", 12) + tok[len("mgk_")+12:]
			h := ke.Handler()
			get := func(token string) time.Duration {
				req := httptest.NewRequestWithContext(b.Context(), http.MethodGet, keyentry.PathPrefix+token, nil)
				rec := httptest.NewRecorder()
				start := time.Now()
				h.ServeHTTP(rec, req)
				d := time.Since(start)
				if rec.Code != http.StatusNotFound {
					b.Fatalf("GET %s: HTTP %d, want 404", token[:16], rec.Code)
				}
				return d
			}
			var tWrong, tUnknown []time.Duration
			for b.Loop() {
				tWrong = append(tWrong, get(wrong))
				tUnknown = append(tUnknown, get(unknown))
			}
			median := func(ds []time.Duration) float64 {
				slices.Sort(ds)
				return float64(ds[len(ds)/2].Nanoseconds())
			}
			mw, mu := median(tWrong), median(tUnknown)
			b.ReportMetric(mw, "wrong-secret-ns")
			b.ReportMetric(mu, "unknown-ns")
			b.ReportMetric(mw/mu, "wrong-secret/unknown")
		})
	}
}
