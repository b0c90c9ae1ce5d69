package registry

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/modelgate/modelgate/secrets"
	"gopkg.in/yaml.v3"
)

// schemaVersion is the only catalog format version this build reads.
const schemaVersion = 1

// credentialNameRule is the shape of a credential name (secrets.ValidName),
// as error messages state it. It is the rule secrets are stored under
// (CONTRACT.md §4, provision_workspace), so an auth_env name outside it
// could never be satisfied.
const credentialNameRule = `^[A-Z_][A-Z0-9_]{0,127}$`

// The file format. Field comments are the reference for catalog authors.
type catalogFile struct {
	// Version is the schema version; it must be 1.
	Version int `yaml:"version"`
	// DefaultRuntime is used when a caller names no runtime.
	DefaultRuntime string `yaml:"default_runtime"`
	// DefaultModel must derive to the platform provider on DefaultRuntime
	// with no credentials: it is what a user without any key can run.
	DefaultModel string          `yaml:"default_model"`
	Providers    []providerEntry `yaml:"providers"`
	Runtimes     []runtimeEntry  `yaml:"runtimes"`
}

type providerEntry struct {
	Name        string   `yaml:"name"`
	DisplayName string   `yaml:"display_name"`
	AuthEnv     []string `yaml:"auth_env"`
	Pattern     string   `yaml:"pattern"`
	// Check is the provider's live credential check (see verify.go).
	Check *checkEntry `yaml:"check"`
}

type runtimeEntry struct {
	Name string     `yaml:"name"`
	Arms []armEntry `yaml:"arms"`
}

type armEntry struct {
	Provider string   `yaml:"provider"`
	Models   []string `yaml:"models"`
}

// LoadFile reads and loads the catalog at path; see Load. It returns an
// error naming path if the file cannot be read or the catalog is invalid.
func LoadFile(path string) (*Catalog, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load catalog: %w", err)
	}
	return Load(data, path)
}

// Load parses and validates a catalog and builds its indexes. source names
// the data in error messages (a file path, typically).
//
// It returns an error that lists every problem found (errors.Join, one line
// each), each naming source, the line and the entry: malformed YAML or an unknown field, an unknown schema
// version, no providers or no runtimes, a provider without a name, auth_env
// or pattern, a provider or runtime name longer than MaxNameBytes, an auth_env name that is not an environment variable name, a
// pattern that does not compile or is not anchored at the start of the id,
// two providers or runtimes with one name, a runtime without arms, an arm
// naming an unknown provider or a provider already used on the runtime, an
// id that is empty, padded with spaces, breaks the model id syntax or is
// listed twice on one arm, a provider other than the platform accepting a
// reserved name (an auth_env name of the platform provider), a missing
// or unknown default runtime, and a default model that is not platform-billed
// on the default runtime (the defaults are checked once the rest is sound).
// The errors are plain (not *modelgate.Error): a
// broken catalog is the operator's problem, found at start-up.
func Load(data []byte, source string) (*Catalog, error) {
	if source == "" {
		source = "catalog"
	}
	l := &loader{source: source}

	var f catalogFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, l.errf(0, "empty catalog")
		}
		return nil, l.yamlError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, l.errf(extra.Line, "more than one YAML document; a catalog is one document")
	}
	// The typed decode above checks the schema; this second parse only
	// gives the validation below line numbers to point at.
	if err := yaml.Unmarshal(data, &l.root); err != nil {
		return nil, l.yamlError(err)
	}
	return l.build(&f)
}

// loader carries what error messages need: the source name and the parsed
// document for line numbers.
type loader struct {
	source string
	root   yaml.Node
	// errs collects every problem found; Load reports them all.
	errs []error
}

// errf returns an error prefixed with "source:line: ", or "source: " when
// line is 0. format may use %w.
func (l *loader) errf(line int, format string, args ...any) error {
	if line > 0 {
		return fmt.Errorf("%s:%d: "+format, append([]any{l.source, line}, args...)...)
	}
	return fmt.Errorf("%s: "+format, append([]any{l.source}, args...)...)
}

// The YAML error shapes are compiled on first use (only a broken file needs
// them).
var yamlLine = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`) })
var yamlUnknownField = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^field (\S+) not found in type .*$`) })

// yamlError rewrites yaml.v3's errors into "source:line: problem" form and
// names unknown fields plainly (instead of by the Go type they miss).
func (l *loader) yamlError(err error) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	errs := make([]error, 0, len(msgs))
	for _, msg := range msgs {
		m := yamlLine().FindStringSubmatch(msg)
		if m == nil {
			errs = append(errs, l.errf(0, "%s", strings.TrimPrefix(msg, "yaml: ")))
			continue
		}
		line, _ := strconv.Atoi(m[1])
		text := m[2]
		if f := yamlUnknownField().FindStringSubmatch(text); f != nil {
			text = fmt.Sprintf("unknown field %q", f[1])
		}
		errs = append(errs, l.errf(line, "%s", text))
	}
	return errors.Join(errs...)
}

// line returns the line of the node at path (mapping keys and sequence
// indexes, from the document's top), or of the deepest node on the path that
// exists, so a message about a missing field points at its entry.
func (l *loader) line(path ...any) int {
	n := &l.root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, step := range path {
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			n = n.Alias
		}
		var next *yaml.Node
		switch s := step.(type) {
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == s {
						next = n.Content[i+1]
						break
					}
				}
			}
		case int:
			if n.Kind == yaml.SequenceNode && s < len(n.Content) {
				next = n.Content[s]
			}
		}
		if next == nil {
			return line
		}
		n, line = next, next.Line
	}
	return line
}

func (l *loader) build(f *catalogFile) (*Catalog, error) {
	if f.Version != schemaVersion {
		if f.Version == 0 {
			return nil, l.errf(l.line("version"), "missing schema version (want version: %d)", schemaVersion)
		}
		return nil, l.errf(l.line("version"), "unknown schema version %d (this build reads version %d)", f.Version, schemaVersion)
	}
	c := &Catalog{
		byName:   make(map[string]*Provider, len(f.Providers)),
		runtimes: make(map[string]*runtimeIndex, len(f.Runtimes)),
		reserved: NameSet{},
	}
	if len(f.Providers) == 0 {
		l.fail(l.line("providers"), "no providers")
	}
	declaredAt := map[string]int{}
	// broken holds providers that are declared but invalid: an arm naming
	// one is not reported again as naming an unknown provider.
	broken := map[string]bool{}
	for i, e := range f.Providers {
		p := l.provider(i, e)
		if p == nil {
			broken[e.Name] = true
			continue
		}
		at := l.line("providers", i, "name")
		if first, dup := declaredAt[p.Name]; dup {
			l.fail(at, "provider %q is declared twice (first at line %d)", p.Name, first)
			continue
		}
		declaredAt[p.Name] = at
		c.providers = append(c.providers, p)
		c.byName[p.Name] = p
	}
	// The platform's names belong to the operator: no other provider may
	// accept them, or a user secret with such a name would count.
	if p, ok := c.byName[PlatformProvider]; ok {
		for _, n := range p.AuthEnv {
			c.reserved[n] = struct{}{}
		}
	}
	for i, p := range f.Providers {
		if p.Name == PlatformProvider {
			continue
		}
		for j, n := range p.AuthEnv {
			if c.reserved.Has(n) {
				l.fail(l.line("providers", i, "auth_env", j),
					"provider %q: auth_env name %q is reserved: it is an auth_env name of the platform provider", p.Name, n)
			}
		}
	}

	if len(f.Runtimes) == 0 {
		l.fail(l.line("runtimes"), "no runtimes")
	}
	declaredAt = map[string]int{}
	for i, e := range f.Runtimes {
		ri := l.runtime(c, broken, i, e)
		if ri == nil {
			continue
		}
		at := l.line("runtimes", i, "name")
		if first, dup := declaredAt[ri.rt.Name]; dup {
			l.fail(at, "runtime %q is declared twice (first at line %d)", ri.rt.Name, first)
			continue
		}
		declaredAt[ri.rt.Name] = at
		c.runtimes[ri.rt.Name] = ri
		c.runtimeNames = append(c.runtimeNames, ri.rt.Name)
	}
	slices.Sort(c.runtimeNames)
	if len(l.errs) > 0 {
		// The defaults are checked by deriving, which needs a sound catalog.
		return nil, errors.Join(l.errs...)
	}

	if err := l.defaults(c, f); err != nil {
		return nil, err
	}
	for _, ri := range c.runtimes {
		if err := c.precomputeOffered(ri); err != nil {
			return nil, l.errf(0, "%v", err)
		}
		ri.precomputeArms()
	}
	return c, nil
}

// fail records one problem; Load reports them all.
func (l *loader) fail(line int, format string, args ...any) {
	l.errs = append(l.errs, l.errf(line, format, args...))
}

// provider returns the provider of entry i, or nil after recording its
// problems.
func (l *loader) provider(i int, e providerEntry) *Provider {
	at := l.line("providers", i)
	if strings.TrimSpace(e.Name) == "" {
		l.fail(at, "provider #%d: missing name", i+1)
		return nil
	}
	if len(e.Name) > MaxNameBytes {
		l.fail(l.line("providers", i, "name"), "provider %s: name longer than %d bytes (%d)", shortName(e.Name), MaxNameBytes, len(e.Name))
		return nil
	}
	ok := true
	if len(e.AuthEnv) == 0 {
		l.fail(at, "provider %q: missing auth_env (the names of its credential)", e.Name)
		ok = false
	}
	for j, n := range e.AuthEnv {
		if !secrets.ValidName(n) {
			l.fail(l.line("providers", i, "auth_env", j),
				"provider %q: auth_env name %q is not an environment variable name (want %s)", e.Name, n, credentialNameRule)
			ok = false
		}
	}
	if e.Pattern == "" {
		l.fail(at, "provider %q: missing pattern", e.Name)
		return nil
	}
	at = l.line("providers", i, "pattern")
	re, err := regexp.Compile(e.Pattern)
	if err != nil {
		l.fail(at, "provider %q: pattern %q: %w", e.Name, e.Pattern, err)
		return nil
	}
	if !anchoredAtStart(e.Pattern) {
		l.fail(at, "provider %q: pattern %q is not anchored at the start of the id: begin it with ^ (after any flags, as in (?i)^)", e.Name, e.Pattern)
		return nil
	}
	if !ok {
		return nil
	}
	prefix, _ := re.LiteralPrefix()
	check, err := l.check(i, e)
	if err != nil {
		l.errs = append(l.errs, err)
		return nil
	}
	display := e.DisplayName
	if display == "" {
		display = e.Name
	}
	return &Provider{
		Name:        e.Name,
		DisplayName: display,
		AuthEnv:     slices.Clip(slices.Clone(e.AuthEnv)),
		Pattern:     e.Pattern,
		Check:       check,
		re:          re,
		endAnchored: strings.HasSuffix(e.Pattern, "$") && !strings.HasSuffix(e.Pattern, `\$`),
		prefix:      prefix,
	}
}

// anchoredAtStart reports whether every match of the RE2 pattern begins at
// the start of the text: it begins with ^ (optionally after a flag group
// such as (?i)), and no alternative escapes the anchor. Multi-line mode is
// refused because its ^ also matches after a newline. The pattern must
// already compile.
func anchoredAtStart(pattern string) bool {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return false
	}
	var anchored func(re *syntax.Regexp) bool
	anchored = func(re *syntax.Regexp) bool {
		switch re.Op {
		case syntax.OpBeginText:
			return true
		case syntax.OpConcat, syntax.OpCapture:
			return len(re.Sub) > 0 && anchored(re.Sub[0])
		case syntax.OpAlternate:
			for _, sub := range re.Sub {
				if !anchored(sub) {
					return false
				}
			}
			return true
		}
		return false
	}
	return anchored(re)
}

// runtime returns the runtime of entry i, or nil after recording its
// problems. An arm naming a provider in broken (declared, but invalid) is
// not reported again.
func (l *loader) runtime(c *Catalog, broken map[string]bool, i int, e runtimeEntry) *runtimeIndex {
	if strings.TrimSpace(e.Name) == "" {
		l.fail(l.line("runtimes", i), "runtime #%d: missing name", i+1)
		return nil
	}
	if len(e.Name) > MaxNameBytes {
		l.fail(l.line("runtimes", i, "name"), "runtime %s: name longer than %d bytes (%d)", shortName(e.Name), MaxNameBytes, len(e.Name))
		return nil
	}
	if len(e.Arms) == 0 {
		l.fail(l.line("runtimes", i), "runtime %q: no arms", e.Name)
		return nil
	}
	ri := &runtimeIndex{
		rt:    Runtime{Name: e.Name, Arms: make([]Arm, 0, len(e.Arms))},
		arms:  make([]*Provider, 0, len(e.Arms)),
		exact: map[string][]int{},
	}
	ok := true
	armOf := map[string]int{}
	for j, a := range e.Arms {
		at := l.line("runtimes", i, "arms", j, "provider")
		// A bad arm is reported and not indexed, but its ids are still
		// checked: every problem of the file is reported at once.
		p, usable := c.byName[a.Provider]
		switch {
		case a.Provider == "":
			l.fail(at, "runtime %q: arm %d: missing provider", e.Name, j+1)
		case !usable && !broken[a.Provider]:
			l.fail(at, "runtime %q: arm %d: unknown provider %q", e.Name, j+1, a.Provider)
		case usable:
			if first, dup := armOf[a.Provider]; dup {
				l.fail(at, "runtime %q: provider %q has two arms (%d and %d); list all its ids on one arm", e.Name, a.Provider, first+1, j+1)
				usable = false
			} else {
				armOf[a.Provider] = j
			}
		}
		if !usable {
			ok = false
		}
		arm := len(ri.rt.Arms)
		listed := map[string]bool{}
		for k, id := range a.Models {
			at := l.line("runtimes", i, "arms", j, "models", k)
			switch {
			case id == "" || strings.TrimSpace(id) != id:
				l.fail(at, "runtime %q: arm %d (%s): model id %q is empty or padded with spaces", e.Name, j+1, a.Provider, id)
				ok = false
			case !ValidModelID(id):
				l.fail(at, "runtime %q: arm %d (%s): model id %q breaks the id syntax: %s", e.Name, j+1, a.Provider, id, ModelIDRule)
				ok = false
			case listed[id]:
				l.fail(at, "runtime %q: arm %d (%s): model %q is listed twice", e.Name, j+1, a.Provider, id)
				ok = false
			default:
				listed[id] = true
				ri.exact[id] = append(ri.exact[id], arm)
			}
		}
		if !ok {
			continue // nothing of this runtime is indexed
		}
		if len(a.Models) == 0 {
			ri.open = append(ri.open, arm)
		}
		ri.rt.Arms = append(ri.rt.Arms, Arm{Provider: a.Provider, Models: slices.Clip(slices.Clone(a.Models))})
		ri.arms = append(ri.arms, p)
	}
	if !ok {
		return nil
	}
	for id := range ri.exact {
		ri.ids = append(ri.ids, id)
	}
	slices.Sort(ri.ids)
	return ri
}

// defaults checks and sets the default runtime and model. The runtimes must
// already be indexed, because the default model is checked by deriving it.
func (l *loader) defaults(c *Catalog, f *catalogFile) error {
	at := l.line("default_runtime")
	if f.DefaultRuntime == "" {
		return l.errf(at, "missing default_runtime")
	}
	if _, ok := c.runtimes[f.DefaultRuntime]; !ok {
		return l.errf(at, "default_runtime %q is not a runtime of this catalog (runtimes: %s)",
			f.DefaultRuntime, strings.Join(c.runtimeNames, ", "))
	}
	c.defaultRuntime = f.DefaultRuntime

	at = l.line("default_model")
	model := strings.TrimSpace(f.DefaultModel)
	if model == "" {
		return l.errf(at, "missing default_model (a platform-billed id of the default runtime)")
	}
	d, err := c.Derive(c.defaultRuntime, model, nil)
	if err != nil {
		return l.errf(at, "default_model %q is not platform-billed on default runtime %q: %v", model, c.defaultRuntime, err)
	}
	if !d.Provider.PlatformBilled() {
		return l.errf(at, "default_model %q is not platform-billed on default runtime %q: it derives to provider %q",
			model, c.defaultRuntime, d.Provider.Name)
	}
	c.defaultModel = model
	return nil
}
