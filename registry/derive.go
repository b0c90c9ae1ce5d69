package registry

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/modelgate/modelgate"
)

// ErrAmbiguous is the cause of Derive's refusal of an id that several open
// arms' patterns admit when the available names do not choose one. The
// refusal is an UNREGISTERED_MODEL_FOR_RUNTIME *modelgate.Error; test for
// this case with errors.Is(err, ErrAmbiguous). More credential names may
// settle it, which is why the gate reads the org's names on it.
var ErrAmbiguous = errors.New("model matches several open arms")

// MaxModelIDLen is the longest model id Derive accepts.
const MaxModelIDLen = 200

// ModelIDRule is the model id syntax in words, as refusals state it.
const ModelIDRule = `a model id matches ^[A-Za-z0-9][A-Za-z0-9._:/@+\[\]-]*$, has at most 200 characters and does not end in "/" or ":"`

// ValidModelID reports whether id (already trimmed) follows the model id
// syntax (CONTRACT.md §2.2): ^[A-Za-z0-9][A-Za-z0-9._:/@+\[\]-]*$, at most
// MaxModelIDLen characters, not ending in "/" or ":". It never fails.
func ValidModelID(id string) bool {
	if id == "" || len(id) > MaxModelIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case i > 0 && strings.IndexByte("._:/@+[]-", c) >= 0:
		default:
			return false
		}
	}
	last := id[len(id)-1]
	return last != '/' && last != ':'
}

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
// A pattern admits an id only when something follows its match (unless it
// ends with $), and the platform provider never counts as accepting an
// available name: its names are reserved for the operator.
//
// On failure it returns a zero Derivation and a *modelgate.Error:
// RUNTIME_UNSUPPORTED for an unknown runtime (details "runtime", "runtimes";
// a runtime longer than MaxNameBytes is unknown, and is shown cut);
// MODEL_REQUIRED for an empty id; INVALID_ARGUMENT for an id that breaks the
// id syntax (ValidModelID; the message states the rule, not the id);
// UNREGISTERED_MODEL_FOR_RUNTIME when no arm lists the id and no open arm's
// pattern decides it (details "runtime", "model", "suggestions",
// "offered_on", and "candidates" with the cause ErrAmbiguous when several
// patterns matched);
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
	if !ValidModelID(model) {
		return Derivation{}, modelgate.Errorf(modelgate.EInvalidArgument, "model: %s", ModelIDRule)
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

// ListedOn returns how many arms of runtime list model (trimmed) exactly;
// 0 for an unknown runtime or an unlisted id. When it is more than one, the
// credentials at hand may choose among them (Derive, step 3), so a gate
// must not settle such an id before it has every name it could read. It
// does not allocate.
func (c *Catalog) ListedOn(runtime, model string) int {
	ri, ok := c.runtimes[runtime]
	if !ok {
		return 0
	}
	return len(ri.exact[strings.TrimSpace(model)])
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

// errRuntimeUnsupported refuses an unknown runtime. The runtime comes from
// the caller and may be long (a name longer than MaxNameBytes is unknown
// like any other): the message and the "runtime" detail carry at most its
// first MaxNameBytes bytes, marked as cut (shortName).
func (c *Catalog) errRuntimeUnsupported(runtime string) *modelgate.Error {
	return modelgate.Errorf(modelgate.ERuntimeUnsupported,
		"runtime %s is not supported; supported runtimes: %s", shortName(runtime), strings.Join(c.runtimeNames, ", ")).
		WithDetail("runtime", shownValue(runtime)).WithDetail("runtimes", c.Runtimes())
}

// shownValue is a caller's value for an error's detail: in full when it is
// at most MaxNameBytes long, otherwise cut as shortName cuts it.
func shownValue(v string) string {
	if len(v) > MaxNameBytes {
		return cut(v)
	}
	return v
}

// shortName quotes a name for a message: in full when it is at most
// MaxNameBytes long, otherwise its first MaxNameBytes bytes followed by
// "…" and its length, so that a huge argument is never echoed back.
func shortName(name string) string {
	if len(name) <= MaxNameBytes {
		return strconv.Quote(name)
	}
	return fmt.Sprintf("%q (%d bytes)", cut(name), len(name))
}

// cut returns the first MaxNameBytes bytes of name (less a split UTF-8
// sequence) followed by "…".
func cut(name string) string {
	return strings.ToValidUTF8(name[:MaxNameBytes], "") + "…"
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
	offeredOn := c.offeredOn(ri.rt.Name, model)
	if len(offeredOn) > 0 {
		fmt.Fprintf(&b, "; runtime %s lists this exact id", quoteList(offeredOn, "and"))
	}
	return modelgate.Errorf(modelgate.EUnregisteredModel, "%s", b.String()).
		WithDetail("runtime", ri.rt.Name).WithDetail("model", model).WithDetail("suggestions", suggestions).
		WithDetail("offered_on", offeredOn)
}

// offeredOn returns the runtimes other than runtime that list model exactly,
// sorted; empty, not nil, when none does.
func (c *Catalog) offeredOn(runtime, model string) []string {
	out := []string{}
	for _, name := range c.runtimeNames {
		if name == runtime {
			continue
		}
		if _, ok := c.runtimes[name].exact[model]; ok {
			out = append(out, name)
		}
	}
	return out
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
	e := modelgate.Errorf(modelgate.EUnregisteredModel, "%s", b.String()).
		WithDetail("runtime", ri.rt.Name).WithDetail("model", model).
		WithDetail("suggestions", suggestions).WithDetail("offered_on", c.offeredOn(ri.rt.Name, model)).
		WithDetail("candidates", candidates)
	e.Cause = ErrAmbiguous
	return e
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
