package provision_test

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/provision"
	"github.com/modelgate/modelgate/registry"
	"github.com/modelgate/modelgate/sqlite"
	"github.com/modelgate/modelgate/verify"
	"github.com/modelgate/modelgate/verify/verifytest"
)

// BenchmarkProvision_LiveCheck measures what a live credential check adds
// to provision_workspace on the embedded store: a BYOK model with a
// workspace key, checks off, then against a fake provider (TLS, loopback)
// answering at once and after 200 ms; and a platform-billed model with and
// without a checker, which must not change. Run all in one go so the ratios
// compare numbers from the same machine state:
//
//	go test ./provision -run '^$' -bench LiveCheck -benchtime 50x
func BenchmarkProvision_LiveCheck(b *testing.B) {
	cases := []struct {
		name    string
		model   string
		secrets bool
		checker bool
		delay   time.Duration
	}{
		{"platform/no-checker", "moonshot/kimi-k2.6", false, false, 0},
		{"platform/checker-on", "moonshot/kimi-k2.6", true, true, 0},
		{"workspace-key/checks-off", "claude-sonnet-4-6", true, false, 0},
		{"workspace-key/provider-0ms", "claude-sonnet-4-6", true, true, 0},
		{"workspace-key/provider-200ms", "claude-sonnet-4-6", true, true, 200 * time.Millisecond},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			db, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "m.db"), sqlite.Options{})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			svc := newService(b, db, zerolog.Nop())
			fake := verifytest.New(b, "x-api-key", "")
			fake.Accept(canary)
			fake.Delay(tc.delay)
			if tc.checker {
				v, err := verify.New(registry.Default(), verify.Options{
					BaseURLs: map[string]string{"anthropic-api": fake.URL()}, RootCAs: fake.Pool(), Audit: db, Log: zerolog.Nop(),
				})
				if err != nil {
					b.Fatal(err)
				}
				svc.SetVerifier(v)
			}
			caller := modelgate.Caller{Org: "acme"}
			i := 0
			for b.Loop() {
				i++
				req := provision.Request{Name: fmt.Sprintf("w%d", i), Model: tc.model}
				if tc.secrets {
					req.Secrets = map[string]string{"ANTHROPIC_API_KEY": canary}
				}
				if _, err := svc.Provision(b.Context(), caller, req); err != nil {
					b.Fatal(err)
				}
			}
			if tc.checker && tc.model == "claude-sonnet-4-6" && len(fake.Requests()) < b.N {
				b.Fatalf("provider saw %d checks for %d provisions", len(fake.Requests()), b.N)
			}
			if !tc.secrets || tc.model != "claude-sonnet-4-6" {
				if n := len(fake.Requests()); n != 0 {
					b.Fatalf("platform model: provider saw %d checks, want none", n)
				}
			}
		})
	}
}
