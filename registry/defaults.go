package registry

import (
	"fmt"
	"strings"
)

// WithDefaults returns a copy of c whose default runtime and platform
// default model are replaced (an empty argument keeps c's value). It
// returns an error, and no catalog, when the runtime is unknown or the
// model is not platform-billed on it: the same rule the loader enforces.
func (c *Catalog) WithDefaults(runtime, model string) (*Catalog, error) {
	out := *c
	if runtime != "" {
		if _, ok := c.runtimes[runtime]; !ok {
			return nil, fmt.Errorf("default runtime %q is not a runtime of the catalog (runtimes: %s)", runtime, strings.Join(c.runtimeNames, ", "))
		}
		out.defaultRuntime = runtime
	}
	if model != "" {
		out.defaultModel = strings.TrimSpace(model)
	}
	d, err := out.Derive(out.defaultRuntime, out.defaultModel, nil)
	if err != nil {
		return nil, fmt.Errorf("default model %q is not platform-billed on default runtime %q: %v", out.defaultModel, out.defaultRuntime, err)
	}
	if !d.Provider.PlatformBilled() {
		return nil, fmt.Errorf("default model %q is not platform-billed on default runtime %q: it derives to provider %q", out.defaultModel, out.defaultRuntime, d.Provider.Name)
	}
	return &out, nil
}
