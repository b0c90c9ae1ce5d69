package keyentry_test

import (
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/gate"
	"github.com/modelgate/modelgate/keyentry"
	"github.com/modelgate/modelgate/metrics"
	"github.com/modelgate/modelgate/metrics/metricstest"
	"github.com/modelgate/modelgate/provision"
	"github.com/modelgate/modelgate/registry"
	"github.com/modelgate/modelgate/secrets"
)

// A link made for a refusal is counted on /metrics as "created".
func TestOffer_LinkIsCountedInTheMetrics(t *testing.T) {
	t.Parallel()
	ke, m, _ := metricsService(t, keyentry.Options{})
	missing := (&modelgate.Error{Code: modelgate.EMissingCredential}).WithDetail("auth_env", []string{"ANTHROPIC_API_KEY"})
	if l := ke.Offer(t.Context(), modelgate.Caller{Org: "acme"}, missing); l == nil {
		t.Fatal("no link made")
	}
	const want = `
# HELP modelgate_key_entry_links_total Key-entry link events (created, used, expired, refused, retired).
# TYPE modelgate_key_entry_links_total counter
modelgate_key_entry_links_total{event="created"} 1
`
	wantLinkMetrics(t, m, want)
}

// A link made past the org's cap counts the link it expired as "retired".
func TestOffer_RetiredLinkIsCountedInTheMetrics(t *testing.T) {
	t.Parallel()
	ke, m, _ := metricsService(t, keyentry.Options{MaxLiveLinks: 1})
	for range 2 {
		missing := (&modelgate.Error{Code: modelgate.EMissingCredential}).WithDetail("auth_env", []string{"ANTHROPIC_API_KEY"})
		if l := ke.Offer(t.Context(), modelgate.Caller{Org: "acme"}, missing); l == nil {
			t.Fatal("no link made")
		}
	}
	const want = `
# HELP modelgate_key_entry_links_total Key-entry link events (created, used, expired, refused, retired).
# TYPE modelgate_key_entry_links_total counter
modelgate_key_entry_links_total{event="created"} 2
modelgate_key_entry_links_total{event="retired"} 1
`
	wantLinkMetrics(t, m, want)
}

// metricsService returns a key-entry service with o's settings over a new
// embedded store, counting into a metrics registry of its own, and the two.
func metricsService(t *testing.T, o keyentry.Options) (*keyentry.Service, *metrics.Metrics, modelgate.Store) {
	t.Helper()
	store := openSQLite(t)
	keys, err := secrets.NewKeyring(testKey)
	if err != nil {
		t.Fatal(err)
	}
	o.Store, o.Service = store, provision.New(store, gate.New(registry.Default(), zerolog.Nop()), keys, zerolog.Nop())
	o.BaseURL, o.Metrics, o.Log = "https://modelgate.example.com", metrics.New(metrics.Options{}), zerolog.Nop()
	return keyentry.New(o), o.Metrics, store
}

// wantLinkMetrics fails t unless m's modelgate_key_entry_links_total family
// scrapes as want (which starts with a newline).
func wantLinkMetrics(t *testing.T, m *metrics.Metrics, want string) {
	t.Helper()
	_, text := metricstest.ScrapeText(t, m)
	if got := metricstest.Family(text, "modelgate_key_entry_links_total"); got != strings.TrimPrefix(want, "\n") {
		t.Errorf("/metrics has\n%s\nwant\n%s", got, want)
	}
}
