package registry

import (
	_ "embed"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// PlatformProvider is the name of the only platform-billed provider: model
// calls through it are billed to the operator of modelgate, so a workspace
// needs no credential of its own for it.
const PlatformProvider = "platform"

// MaxNameBytes is the longest provider or runtime name a catalog may
// declare (Load refuses a longer one). A longer name in an argument is
// therefore unknown, not malformed: a runtime is RUNTIME_UNSUPPORTED and a
// provider filter keeps no arm, as for any other name the catalog lacks.
const MaxNameBytes = 64

// Provider is one entry of the catalog's provider table. A Provider returned
// by a Catalog is shared by every caller and must not be modified.
type Provider struct {
	// Name identifies the provider in arms, results and errors.
	Name string
	// DisplayName is the name shown to people; it defaults to Name.
	DisplayName string
	// AuthEnv lists the environment variable names that carry the
	// provider's credential, in catalog order; any one name satisfies it.
	AuthEnv []string
	// Pattern is the RE2 source as written in the catalog. It is anchored
	// at the start of the id and consulted only for open arms.
	Pattern string
	// Check is the provider's live credential check, or nil when it
	// declares none (CONTRACT.md §8).
	Check *Check

	re *regexp.Regexp
	// endAnchored is true when Pattern ends with an unescaped $: it then
	// matches whole ids, and the remainder rule (CONTRACT.md §2.4) does not
	// apply.
	endAnchored bool
	// prefix is the literal text every match of re starts with ("" for
	// case-insensitive patterns); checking it first keeps the pattern path
	// of Derive cheap on runtimes with many open arms.
	prefix string
}

// PlatformBilled reports whether the provider is the platform provider. It
// never fails.
func (p *Provider) PlatformBilled() bool { return p.Name == PlatformProvider }

// Accepts reports whether name is one of the provider's AuthEnv names; it
// returns false for any other name, including "".
func (p *Provider) Accepts(name string) bool { return slices.Contains(p.AuthEnv, name) }

// acceptsAny reports whether any of the provider's names is in s. The
// platform provider accepts none: its names are reserved for the operator
// (CONTRACT.md §2), so no secret can choose a platform arm.
func (p *Provider) acceptsAny(s NameSet) bool {
	if len(s) == 0 || p.PlatformBilled() {
		return false
	}
	for _, n := range p.AuthEnv {
		if s.Has(n) {
			return true
		}
	}
	return false
}

// matches reports whether the provider's pattern admits id: the pattern
// matches, and something follows what it matched unless the pattern is
// anchored at the end ("openrouter/" alone is not admitted by ^openrouter/).
func (p *Provider) matches(id string) bool {
	if !strings.HasPrefix(id, p.prefix) {
		return false
	}
	if p.endAnchored {
		return p.re.MatchString(id)
	}
	loc := p.re.FindStringIndex(id)
	return loc != nil && loc[1] < len(id)
}

// Arm is one entry of a runtime's ordered provider list.
type Arm struct {
	// Provider names an entry of the provider table.
	Provider string
	// Models lists the exact ids the arm serves, in catalog order. Empty
	// means the arm is open: it is reached by its provider's pattern only
	// and never offered in discovery.
	Models []string
}

// Runtime is an agent runtime and its arms, in the order Derive tries them.
// A Runtime returned by a Catalog is shared and must not be modified.
type Runtime struct {
	Name string
	Arms []Arm
}

// NameSet is a set of available credential (environment variable) names.
// A nil NameSet is empty. Only names are ever held, never values.
type NameSet map[string]struct{}

// NewNameSet returns a set holding names. It never fails and never returns
// nil.
func NewNameSet(names ...string) NameSet {
	s := make(NameSet, len(names))
	for _, n := range names {
		s[n] = struct{}{}
	}
	return s
}

// Reserved reports whether name is reserved for the operator: an auth_env
// name of the platform provider. A reserved name never counts among the
// available names, and a workspace or org secret with such a name is
// refused (CONTRACT.md §2). It returns false for any other name.
func (c *Catalog) Reserved(name string) bool { return c.reserved.Has(name) }

// ReservedNames returns the reserved names, sorted, in a new slice.
func (c *Catalog) ReservedNames() []string {
	out := make([]string, 0, len(c.reserved))
	for n := range c.reserved {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Has reports whether name is in the set; it returns false on a nil set.
func (s NameSet) Has(name string) bool {
	_, ok := s[name]
	return ok
}

// Catalog is a loaded, validated catalog with the indexes Derive and
// Offered use. It is immutable and safe for concurrent use. The zero value
// is not usable; get one from Load, LoadFile or Default.
type Catalog struct {
	defaultRuntime string
	defaultModel   string
	providers      []*Provider // declared order
	byName         map[string]*Provider
	runtimes       map[string]*runtimeIndex
	runtimeNames   []string // sorted
	// reserved holds the platform provider's auth_env: names that belong
	// to the operator and never count as a user's credential.
	reserved NameSet
}

// runtimeIndex is a runtime with everything Derive, Suggest and Offered
// need precomputed at load.
type runtimeIndex struct {
	rt Runtime
	// arms[i] is the provider of rt.Arms[i].
	arms []*Provider
	// exact maps every listed id to the indexes of the arms listing it,
	// in declared order.
	exact map[string][]int
	// open holds the indexes of the arms that list no ids, in order.
	open []int
	// ids is every listed id, sorted and without duplicates.
	ids []string
	// offered is ids, derived with no credentials (see Offered).
	offered []OfferedModel
	// arms is the runtime as discovery shows it (see Arms).
	shown []ArmOffer
}

//go:embed default.yaml
var defaultYAML []byte

var loadDefault = sync.OnceValue(func() *Catalog {
	c, err := Load(defaultYAML, "registry/default.yaml")
	if err != nil {
		panic("registry: the embedded default catalog does not load: " + err.Error())
	}
	return c
})

// Default returns the embedded default catalog (default.yaml), loaded once
// and shared. It panics if that catalog does not load, which is a
// programmer error caught by this package's tests.
func Default() *Catalog { return loadDefault() }

// DefaultRuntime returns the runtime used when a caller names none. It never
// fails: the loader guarantees the runtime exists.
func (c *Catalog) DefaultRuntime() string { return c.defaultRuntime }

// DefaultModel returns the platform default model: an id that is
// platform-billed on the default runtime, so it needs no user credential.
// It never fails: the loader guarantees the property.
func (c *Catalog) DefaultModel() string { return c.defaultModel }

// Runtimes returns the names of the catalog's runtimes, sorted, in a new
// slice the caller may keep. It never fails.
func (c *Catalog) Runtimes() []string { return slices.Clone(c.runtimeNames) }

// Runtime returns the named runtime and true, or nil and false if the
// catalog has no such runtime. The Runtime is shared and must not be
// modified.
func (c *Catalog) Runtime(name string) (*Runtime, bool) {
	ri, ok := c.runtimes[name]
	if !ok {
		return nil, false
	}
	return &ri.rt, true
}

// Provider returns the named provider and true, or nil and false if the
// catalog's provider table has no such provider. The Provider is shared and
// must not be modified.
func (c *Catalog) Provider(name string) (*Provider, bool) {
	p, ok := c.byName[name]
	return p, ok
}

// Providers returns every provider in declared order, in a new slice; the
// Providers themselves are shared and must not be modified. It never fails.
func (c *Catalog) Providers() []*Provider { return slices.Clone(c.providers) }

// Summary returns a short human-readable description of the catalog: how
// many providers and runtimes it has, the arms and offered ids of each
// runtime, and the defaults. It is what `mcp-server catalog check FILE`
// prints for a catalog that loads. It never fails.
func (c *Catalog) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d providers, %d runtimes\n", len(c.providers), len(c.runtimeNames))
	fmt.Fprintf(&b, "default runtime: %s\n", c.defaultRuntime)
	fmt.Fprintf(&b, "default model:   %s (platform-billed)\n", c.defaultModel)
	var checked []string
	for _, p := range c.providers {
		if p.Check != nil {
			checked = append(checked, p.Name)
		}
	}
	fmt.Fprintf(&b, "credential checks: %d providers (%s)\n", len(checked), strings.Join(checked, ", "))
	width := 0
	for _, name := range c.runtimeNames {
		width = max(width, len(name))
	}
	for _, name := range c.runtimeNames {
		ri := c.runtimes[name]
		platform := 0
		for _, m := range ri.offered {
			if m.PlatformBilled {
				platform++
			}
		}
		fmt.Fprintf(&b, "runtime %-*s  %2d arms (%2d open), %2d ids offered (%d platform-billed, %d BYOK)\n",
			width, name, len(ri.rt.Arms), len(ri.open), len(ri.offered), platform, len(ri.offered)-platform)
	}
	return b.String()
}
