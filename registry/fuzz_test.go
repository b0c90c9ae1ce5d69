package registry_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/registry"
)

// FuzzDerive checks that Derive never panics, fails only with the codes of
// CONTRACT.md §2, and is idempotent: deriving again, with no names or with
// the derived provider's own names (what the gate does when it re-derives
// with the credentials it found), yields the same provider.
func FuzzDerive(f *testing.F) {
	for _, tc := range deriveCases {
		f.Add(tc.runtime, tc.model)
	}
	f.Add("codex", "\tgpt-5.5 ")
	f.Add("claude-code", "claude-sonnet-4-6\x00")
	f.Add("hermes", "openrouter/\u00e9\u00e9")
	c := registry.Default()
	codes := map[string]bool{
		modelgate.ERuntimeUnsupported:    true,
		modelgate.EModelRequired:         true,
		modelgate.EUnregisteredModel:     true,
		modelgate.EProviderNotInRegistry: true,
		modelgate.EInvalidArgument:       true, // the id syntax
	}
	f.Fuzz(func(t *testing.T, runtime, model string) {
		d, err := c.Derive(runtime, model, nil)
		if err != nil {
			var e *modelgate.Error
			if !errors.As(err, &e) || !codes[e.Code] {
				t.Fatalf("Derive(%q, %q) failed with %v, not a coded error of §2", runtime, model, err)
			}
			if e.Code == modelgate.EUnregisteredModel {
				if s, ok := e.Details["suggestions"].([]string); !ok || s == nil || len(s) > 3 {
					t.Fatalf(`details["suggestions"] = %#v, want a []string of at most 3`, e.Details["suggestions"])
				}
			}
			return
		}
		if d.Provider == nil {
			t.Fatalf("Derive(%q, %q) succeeded with no provider", runtime, model)
		}
		if !registry.ValidModelID(strings.TrimSpace(model)) {
			t.Fatalf("Derive(%q, %q) admitted an id that breaks the id syntax", runtime, model)
		}
		rt, _ := c.Runtime(runtime)
		if rt.Arms[d.Arm].Provider != d.Provider.Name {
			t.Fatalf("Derive(%q, %q) = arm %d, whose provider is not %s", runtime, model, d.Arm, d.Provider.Name)
		}
		for _, again := range []struct {
			model string
			names registry.NameSet
		}{
			{model, nil},
			{strings.TrimSpace(model), nil},
			{model, registry.NewNameSet(d.Provider.AuthEnv...)},
		} {
			d2, err := c.Derive(runtime, again.model, again.names)
			if err != nil || d2.Provider != d.Provider || d2.Exact != d.Exact {
				t.Fatalf("Derive(%q, %q) = %s, but again with %v: %+v, %v", runtime, model, d.Provider.Name, again.names, d2, err)
			}
		}
	})
}
