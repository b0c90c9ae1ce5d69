package registry_test

import (
	"strings"
	"testing"

	"github.com/modelgate/modelgate/registry"
)

// FuzzLoad feeds the loader arbitrary documents: it must never panic, and a
// catalog it accepts must keep the loader's promises (a platform-billed
// default model on the default runtime; every offered id derives).
func FuzzLoad(f *testing.F) {
	f.Add(minimalCatalog)
	f.Add(strings.Replace(minimalCatalog, "version: 1", "version: 2", 1))
	f.Add(strings.Replace(minimalCatalog, "'^platform/'", "'('", 1))
	f.Add("")
	f.Add("version: 1\nproviders: []\n")
	f.Add("[1, 2")
	f.Fuzz(func(t *testing.T, doc string) {
		c, err := registry.Load([]byte(doc), "fuzz.yaml")
		if err != nil {
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("empty error message")
			}
			return
		}
		d, err := c.Derive(c.DefaultRuntime(), c.DefaultModel(), nil)
		if err != nil || !d.Provider.PlatformBilled() {
			t.Fatalf("accepted catalog with a default model that is not platform-billed: %v", err)
		}
		// Every name fits the limit, so a longer argument is unknown.
		for _, p := range c.Providers() {
			if len(p.Name) > registry.MaxNameBytes {
				t.Fatalf("accepted a provider name of %d bytes", len(p.Name))
			}
		}
		for _, rt := range c.Runtimes() {
			if len(rt) > registry.MaxNameBytes {
				t.Fatalf("accepted a runtime name of %d bytes", len(rt))
			}
			offered, err := c.Offered(rt, registry.Filter{})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range offered {
				if _, err := c.Derive(rt, m.Model, nil); err != nil {
					t.Fatalf("offered %s %s does not derive: %v", rt, m.Model, err)
				}
			}
		}
	})
}

const minimalCatalog = `version: 1
default_runtime: rt
default_model: platform/m
providers:
  - name: platform
    display_name: Platform
    auth_env: [MODELGATE_PLATFORM_TOKEN]
    pattern: '^platform/'
  - name: acme
    display_name: Acme
    auth_env: [ACME_API_KEY]
    pattern: '^acme-'
runtimes:
  - name: rt
    arms:
      - provider: acme
        models: [acme-1, acme-2]
      - provider: platform
        models: [platform/m]
`
