package registry

import (
	"errors"
	"testing"

	"github.com/modelgate/modelgate"
)

// The loader refuses an arm whose provider is not in the provider table, so
// only a damaged index can reach DERIVED_PROVIDER_NOT_IN_REGISTRY; Derive
// must still answer with the code rather than a nil provider.
func TestDerive_ProviderMissingFromTableIsRefused(t *testing.T) {
	t.Parallel()
	c, err := Load(defaultYAML, "default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c.runtimes["codex"].arms[0] = nil // openai-subscription
	for _, tc := range []struct{ model string }{{"gpt-5.5"}, {"gpt-5.4-mini"}} {
		d, err := c.Derive("codex", tc.model, nil)
		var e *modelgate.Error
		if !errors.As(err, &e) || e.Code != modelgate.EProviderNotInRegistry {
			t.Fatalf("Derive(codex, %q) = %+v, %v; want %s", tc.model, d, err, modelgate.EProviderNotInRegistry)
		}
		if e.Details["provider"] != "openai-subscription" {
			t.Errorf(`details["provider"] = %v, want openai-subscription`, e.Details["provider"])
		}
	}
}
