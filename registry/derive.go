package registry

import (
	"fmt"
	"strings"

	"github.com/modelgate/modelgate"
)

// Derivation is the outcome of Derive: who serves the model and why.
type Derivation struct {
	// Provider is the derived provider; it is shared and must not be
	// modified.
	Provider *Provider
	// Exact is true when an arm lists the id, false when an open arm's
	// pattern matched it.
	Exact bool
	// Arm is the index of the chosen arm in the runtime's Arms.
	Arm int
}

// Derive decides which provider serves model on runtime, given the names of
// the credentials available (CONTRACT.md §2). It is the only such decision in
// modelgate: discovery, the gate and the provisioning backstop all call it.
//
// The model id is trimmed. An id listed exactly by one arm derives to that
// arm; listed by several, to the first whose provider accepts an available
// name, else to the first. Any other id is tried against the patterns of the
// runtime's open arms only (arms that list no ids); one match derives to
// it, several are settled by the available names. Derive never matches by
// substring and never consults the pattern of a closed arm.
//
// On failure it returns a zero Derivation and a *modelgate.Error:
// RUNTIME_UNSUPPORTED for an unknown runtime (details "runtime", "runtimes");
// MODEL_REQUIRED for an empty id; UNREGISTERED_MODEL_FOR_RUNTIME when no arm
// lists the id and no open arm's pattern decides it (details "runtime",
// "model", "suggestions", and "candidates" when several patterns matched);
// DERIVED_PROVIDER_NOT_IN_REGISTRY if an arm's provider is missing from the
// provider table, which Load prevents.
//
// Deriving a listed id allocates nothing.
func (c *Catalog) Derive(runtime, model string, available NameSet) (Derivation, error) {
	ri, ok := c.runtimes[runtime]
	if !ok {
		return Derivation{}, c.errRuntimeUnsupported(runtime)
	}
	model = strings.TrimSpace(model)
	if model == "" {
		e := modelgate.Errorf(modelgate.EModelRequired, "a model id is required; list_offered_models lists the ids of runtime %q", runtime)
		if def := c.PlatformDefault(runtime); def != "" {
			e = modelgate.Errorf(modelgate.EModelRequired,
				"a model id is required; the platform-billed model %q needs no credential on runtime %q", def, runtime)
		}
		return Derivation{}, e.WithDetail("runtime", runtime)
	}

	if arms, ok := ri.exact[model]; ok {
		arm := arms[0]
		if len(arms) > 1 {
			for _, a := range arms {
				if p := ri.arms[a]; p != nil && p.acceptsAny(available) {
					arm = a
					break
				}
			}
		}
		return ri.derived(runtime, model, arm, true)
	}

	match, n := -1, 0
	for _, a := range ri.open {
		if p := ri.arms[a]; p != nil && p.matches(model) {
			if n == 0 {
				match = a
			}
			n++
		}
	}
	switch n {
	case 0:
		return Derivation{}, c.errUnregistered(ri, model)
	case 1:
		return ri.derived(runtime, model, match, false)
	}

	// Several open arms' patterns match: the available names may settle it.
	match, n = -1, 0
	for _, a := range ri.open {
		if p := ri.arms[a]; p != nil && p.matches(model) && p.acceptsAny(available) {
			if n == 0 {
				match = a
			}
			n++
		}
	}
	if n == 1 {
		return ri.derived(runtime, model, match, false)
	}
	return Derivation{}, c.errAmbiguous(ri, model)
}

// derived returns the derivation to arm, or DERIVED_PROVIDER_NOT_IN_REGISTRY
// if the arm has no provider (possible only in a hand-built Catalog).
func (ri *runtimeIndex) derived(runtime, model string, arm int, exact bool) (Derivation, error) {
	p := ri.arms[arm]
	if p == nil {
		name := ri.rt.Arms[arm].Provider
		return Derivation{}, modelgate.Errorf(modelgate.EProviderNotInRegistry,
			"model %q on runtime %q derives to provider %q, which is not in the catalog's provider table", model, runtime, name).
			WithDetail("runtime", runtime).WithDetail("model", model).WithDetail("provider", name)
	}
	return Derivation{Provider: p, Exact: exact, Arm: arm}, nil
}

func (c *Catalog) errRuntimeUnsupported(runtime string) *modelgate.Error {
	return modelgate.Errorf(modelgate.ERuntimeUnsupported,
		"runtime %q is not supported; supported runtimes: %s", runtime, strings.Join(c.runtimeNames, ", ")).
		WithDetail("runtime", runtime).WithDetail("runtimes", c.Runtimes())
}

func (c *Catalog) errUnregistered(ri *runtimeIndex, model string) *modelgate.Error {
	var b strings.Builder
	fmt.Fprintf(&b, "model %q is not registered for runtime %q", model, ri.rt.Name)
	// Say why a plausible-looking id is refused: its provider serves only
	// the ids it lists on this runtime.
	for a, p := range ri.arms {
		if p != nil && len(ri.rt.Arms[a].Models) > 0 && p.matches(model) {
			fmt.Fprintf(&b, "; provider %q serves only its listed ids on this runtime", p.Name)
			break
		}
	}
	suggestions := c.Suggest(ri.rt.Name, model)
	writeSuggestions(&b, suggestions)
	return modelgate.Errorf(modelgate.EUnregisteredModel, "%s", b.String()).
		WithDetail("runtime", ri.rt.Name).WithDetail("model", model).WithDetail("suggestions", suggestions)
}

func (c *Catalog) errAmbiguous(ri *runtimeIndex, model string) *modelgate.Error {
	candidates := []string{}
	for _, a := range ri.open {
		if p := ri.arms[a]; p != nil && p.matches(model) {
			candidates = append(candidates, p.Name)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "model %q is ambiguous on runtime %q: it matches the patterns of providers %s, and the available credentials do not choose one (add a credential of exactly one of them)",
		model, ri.rt.Name, quoteList(candidates, "and"))
	suggestions := c.Suggest(ri.rt.Name, model)
	writeSuggestions(&b, suggestions)
	return modelgate.Errorf(modelgate.EUnregisteredModel, "%s", b.String()).
		WithDetail("runtime", ri.rt.Name).WithDetail("model", model).
		WithDetail("suggestions", suggestions).WithDetail("candidates", candidates)
}

func writeSuggestions(b *strings.Builder, suggestions []string) {
	if len(suggestions) > 0 {
		fmt.Fprintf(b, "; did you mean %s?", quoteList(suggestions, "or"))
	} else {
		b.WriteString("; list_offered_models shows the registered ids")
	}
}

// quoteList formats ["a", "b", "c"] as `"a", "b" or "c"` (with conj "or").
func quoteList(items []string, conj string) string {
	var b strings.Builder
	for i, s := range items {
		switch {
		case i == 0:
		case i == len(items)-1:
			b.WriteString(" " + conj + " ")
		default:
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", s)
	}
	return b.String()
}
