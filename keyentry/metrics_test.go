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
	store := openSQLite(t)
	keys, err := secrets.NewKeyring(testKey)
	if err != nil {
		t.Fatal(err)
	}
	svc := provision.New(store, gate.New(registry.Default(), zerolog.Nop()), keys, zerolog.Nop())
	m := metrics.New(metrics.Options{})
	ke := keyentry.New(keyentry.Options{Store: store, Service: svc, BaseURL: "https://modelgate.example.com", Metrics: m, Log: zerolog.Nop()})
	missing := (&modelgate.Error{Code: modelgate.EMissingCredential}).WithDetail("auth_env", []string{"ANTHROPIC_API_KEY"})
	if l := ke.Offer(t.Context(), modelgate.Caller{Org: "acme"}, missing); l == nil {
		t.Fatal("no link made")
	}
	const want = `
# HELP modelgate_key_entry_links_total Key-entry link events (created, used, expired, refused, retired).
# TYPE modelgate_key_entry_links_total counter
modelgate_key_entry_links_total{event="created"} 1
`
	_, text := metricstest.ScrapeText(t, m)
	if got := metricstest.Family(text, "modelgate_key_entry_links_total"); got != strings.TrimPrefix(want, "\n") {
		t.Errorf("/metrics has\n%s\nwant\n%s", got, want)
	}
}

// A link made past the org's cap counts the link it expired as "retired".
func TestOffer_RetiredLinkIsCountedInTheMetrics(t *testing.T) {
	t.Parallel()
	store := openSQLite(t)
	keys, err := secrets.NewKeyring(testKey)
	if err != nil {
		t.Fatal(err)
	}
	svc := provision.New(store, gate.New(registry.Default(), zerolog.Nop()), keys, zerolog.Nop())
	m := metrics.New(metrics.Options{})
	ke := keyentry.New(keyentry.Options{Store: store, Service: svc, BaseURL: "https://modelgate.example.com",
		MaxLiveLinks: 1, Metrics: m, Log: zerolog.Nop()})
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
	_, text := metricstest.ScrapeText(t, m)
	if got := metricstest.Family(text, "modelgate_key_entry_links_total"); got != strings.TrimPrefix(want, "\n") {
		t.Errorf("/metrics has\n%s\nwant\n%s", got, want)
	}
}
