package registry_test

import (
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/modelgate/modelgate/registry"
)

// TestDerive_DiscoveryAndGateAgree is the property that lets discovery
// promise what the gate enforces: for every offered id and any credential
// names a workspace might hold, Derive succeeds; it derives the platform or
// a provider whose names the offer listed; and if the workspace holds any
// name the offer listed, the derived provider accepts one of those names
// (so the gate allows what discovery said would be allowed).
func TestDerive_DiscoveryAndGateAgree(t *testing.T) {
	t.Parallel()
	c := registry.Default()
	var allNames []string
	for _, p := range c.Providers() {
		allNames = append(allNames, p.AuthEnv...)
	}
	slices.Sort(allNames)
	allNames = slices.Compact(allNames)

	rapid.Check(t, func(t *rapid.T) {
		runtime := rapid.SampledFrom(c.Runtimes()).Draw(t, "runtime")
		offered, err := c.Offered(runtime, registry.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		m := rapid.SampledFrom(offered).Draw(t, "model")

		// Names from the offer, from the rest of the catalog, and made up.
		pool := slices.Concat(m.AuthEnv, allNames, []string{"UNRELATED", "HOME", "PATH"})
		names := rapid.SliceOfNDistinct(rapid.SampledFrom(pool), 0, 6, rapid.ID[string]).Draw(t, "names")
		names = append(names, rapid.SliceOfN(rapid.StringMatching(`[A-Z_][A-Z0-9_]{0,12}`), 0, 2).Draw(t, "random names")...)
		available := registry.NewNameSet(names...)

		d, err := c.Derive(runtime, m.Model, available)
		if err != nil {
			t.Fatalf("Derive(%q, %q, %q): %v", runtime, m.Model, names, err)
		}
		if !d.Exact {
			t.Fatalf("offered id %q derived by pattern", m.Model)
		}
		if !d.Provider.PlatformBilled() {
			for _, n := range d.Provider.AuthEnv {
				if !slices.Contains(m.AuthEnv, n) {
					t.Fatalf("derived %s accepts %q, which the offer of %q does not list (%q)", d.Provider.Name, n, m.Model, m.AuthEnv)
				}
			}
		}
		if slices.ContainsFunc(m.AuthEnv, available.Has) && !slices.ContainsFunc(names, d.Provider.Accepts) {
			t.Fatalf("names %q include one the offer of %q lists (%q), but derived %s accepts none of them",
				names, m.Model, m.AuthEnv, d.Provider.Name)
		}
	})
}
