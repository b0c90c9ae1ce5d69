package registry

import (
	"fmt"
	"slices"
	"strings"

	"github.com/modelgate/modelgate"
)

// OfferedModel is one id offered on a runtime by discovery.
type OfferedModel struct {
	// Model is the id as listed on the runtime's arms.
	Model string
	// Provider is the provider Derive chooses with no credentials: the
	// first declared arm that lists the id.
	Provider string
	// PlatformBilled is true when Provider is the platform provider.
	PlatformBilled bool
	// AuthEnv, for a BYOK model, is every name that would make the gate
	// allow it on this runtime: the auth_env of the provider of every arm
	// listing the id, in arm order then auth_env order, without duplicates.
	// It is nil for a platform-billed model. The slice is shared and must
	// not be modified.
	AuthEnv []string
}

// Filter narrows Offered. The zero Filter keeps everything.
type Filter struct {
	// Provider keeps only models whose derived Provider equals it; "" keeps
	// any provider.
	Provider string
	// Billing is "" or "all" (keep all), "platform" (platform-billed only)
	// or "byok" (BYOK only).
	Billing string
}

// Offered lists the ids listed on the runtime's arms, sorted by id, each as
// Derive decides it with no credentials, narrowed by f. Ids reachable only
// through open arms are never offered: the catalog does not know them. The
// result is a new slice, empty (not nil) when nothing matches.
//
// It returns a *modelgate.Error with code INVALID_ARGUMENT for a Billing
// value other than "", "all", "platform" or "byok", and RUNTIME_UNSUPPORTED
// (details "runtime", "runtimes") for an unknown runtime.
func (c *Catalog) Offered(runtime string, f Filter) ([]OfferedModel, error) {
	ri, err := c.filteredRuntime(runtime, f)
	if err != nil {
		return nil, err
	}
	return filtered(ri.offered, f, func(m OfferedModel) (string, bool) { return m.Provider, m.PlatformBilled }), nil
}

// filteredRuntime returns the index of runtime for Offered and Arms:
// INVALID_ARGUMENT for a bad f.Billing first, then RUNTIME_UNSUPPORTED
// for an unknown runtime.
func (c *Catalog) filteredRuntime(runtime string, f Filter) (*runtimeIndex, error) {
	if _, _, err := f.billing(); err != nil {
		return nil, err
	}
	ri, ok := c.runtimes[runtime]
	if !ok {
		return nil, c.errRuntimeUnsupported(runtime)
	}
	return ri, nil
}

// filtered returns the items of list that f (already checked by
// filteredRuntime) keeps, in order, in a new slice, empty rather than nil
// when none is kept; of returns an item's provider and whether it is
// platform-billed.
func filtered[T any](list []T, f Filter, of func(T) (provider string, platform bool)) []T {
	keepPlatform, keepBYOK, _ := f.billing()
	out := make([]T, 0, len(list))
	for _, item := range list {
		provider, platform := of(item)
		if f.Provider != "" && provider != f.Provider {
			continue
		}
		if platform && !keepPlatform || !platform && !keepBYOK {
			continue
		}
		out = append(out, item)
	}
	return out
}

// billing returns which billings f keeps, or INVALID_ARGUMENT.
func (f Filter) billing() (platform, byok bool, err error) {
	switch f.Billing {
	case "", "all":
		return true, true, nil
	case "platform":
		return true, false, nil
	case "byok":
		return false, true, nil
	}
	return false, false, modelgate.Errorf(modelgate.EInvalidArgument,
		`billing must be "platform", "byok" or "all", not %s`, shortName(f.Billing)).WithDetail("billing", shownValue(f.Billing))
}

// ArmOffer is one arm of a runtime as discovery shows it (CONTRACT.md §4).
// Its slices are shared and must not be modified.
type ArmOffer struct {
	// Provider names the arm's provider.
	Provider string
	// PlatformBilled is true on the platform provider's arm.
	PlatformBilled bool
	// AuthEnv is the provider's accepted credential names; nil on a
	// platform arm, whose names are reserved for the operator.
	AuthEnv []string
	// Models is the arm's ids, sorted; nil on an open arm.
	Models []string
	// Pattern is the provider's pattern on an open arm; "" on a closed one.
	Pattern string
}

// Arms returns the runtime's arms in the order Derive tries them, narrowed
// by f (Provider keeps that provider's arm, Billing the platform or BYOK
// arms), in a new slice that is empty, not nil, when nothing is kept. Read
// as CONTRACT.md §4 says, the answer tells exactly what Derive and the gate
// decide. It returns INVALID_ARGUMENT for a bad Billing and
// RUNTIME_UNSUPPORTED (details "runtime", "runtimes") for an unknown
// runtime.
func (c *Catalog) Arms(runtime string, f Filter) ([]ArmOffer, error) {
	ri, err := c.filteredRuntime(runtime, f)
	if err != nil {
		return nil, err
	}
	return filtered(ri.shown, f, func(a ArmOffer) (string, bool) { return a.Provider, a.PlatformBilled }), nil
}

// precomputeArms fills ri.shown.
func (ri *runtimeIndex) precomputeArms() {
	ri.shown = make([]ArmOffer, len(ri.rt.Arms))
	for i, arm := range ri.rt.Arms {
		p := ri.arms[i]
		a := ArmOffer{Provider: p.Name, PlatformBilled: p.PlatformBilled()}
		if !a.PlatformBilled {
			a.AuthEnv = p.AuthEnv
		}
		if len(arm.Models) > 0 {
			a.Models = slices.Sorted(slices.Values(arm.Models))
		} else {
			a.Pattern = p.Pattern
		}
		ri.shown[i] = a
	}
}

// precomputeOffered fills ri.offered. Every listed id derives (it is listed),
// so an error here means the index itself is broken.
func (c *Catalog) precomputeOffered(ri *runtimeIndex) error {
	ri.offered = make([]OfferedModel, 0, len(ri.ids))
	for _, id := range ri.ids {
		d, err := c.Derive(ri.rt.Name, id, nil)
		if err != nil {
			return fmt.Errorf("runtime %q: listed model %q does not derive: %w", ri.rt.Name, id, err)
		}
		m := OfferedModel{Model: id, Provider: d.Provider.Name, PlatformBilled: d.Provider.PlatformBilled()}
		if !m.PlatformBilled {
			// The platform's own token is never asked of a user, so it
			// is left out even if the platform arm also lists the id.
			for _, a := range ri.exact[id] {
				if p := ri.arms[a]; !p.PlatformBilled() {
					for _, n := range p.AuthEnv {
						if !slices.Contains(m.AuthEnv, n) {
							m.AuthEnv = append(m.AuthEnv, n)
						}
					}
				}
			}
			m.AuthEnv = slices.Clip(m.AuthEnv)
		}
		ri.offered = append(ri.offered, m)
	}
	return nil
}

// AcceptedNames returns every credential name that lets model run on
// runtime: for a listed id, the AuthEnv that Offered reports (the union over
// every arm listing it); for an id reached by pattern, the auth_env of the
// provider derived with no names. It returns nil for a platform-billed
// model and for a runtime or model that does not derive. The slice is
// shared and must not be modified.
func (c *Catalog) AcceptedNames(runtime, model string) []string {
	ri, ok := c.runtimes[runtime]
	if !ok {
		return nil
	}
	model = strings.TrimSpace(model)
	if i, found := slices.BinarySearchFunc(ri.offered, model, func(m OfferedModel, id string) int {
		return strings.Compare(m.Model, id)
	}); found {
		return ri.offered[i].AuthEnv
	}
	d, err := c.Derive(runtime, model, nil)
	if err != nil || d.Provider.PlatformBilled() {
		return nil
	}
	return d.Provider.AuthEnv
}

// PlatformDefault returns the platform-billed model to recommend on runtime
// (one that needs no user credential): the catalog's default model when the
// runtime bills it on the platform, otherwise the runtime's first
// platform-billed id in id order. It returns "" for an unknown runtime or
// one that bills no model on the platform.
func (c *Catalog) PlatformDefault(runtime string) string {
	ri, ok := c.runtimes[runtime]
	if !ok {
		return ""
	}
	if d, err := c.Derive(runtime, c.defaultModel, nil); err == nil && d.Provider.PlatformBilled() {
		return c.defaultModel
	}
	for _, m := range ri.offered {
		if m.PlatformBilled {
			return m.Model
		}
	}
	return ""
}
