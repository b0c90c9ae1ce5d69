// Package gate is the BYOK gate: the one function that decides whether a
// workspace for (runtime, model) can really start with the credentials at
// hand. provision_workspace runs it before any database write; the
// provisioner runs it again (Preflight) before a workspace starts, and
// list_offered_models reports what it would decide. Because all three call
// this package, discovery and enforcement cannot disagree.
//
// The gate is cheap by design: a platform-billed model, or a BYOK model whose
// credential came with the call, is decided with no database query; otherwise
// it asks its OrgSecretNames lookup once for the org's usable credential
// names. When to ask is decided here and nowhere else, for Check and
// Preflight alike, so the backstop reads the org's credentials exactly when
// the create-time gate would (an id that several open arms match included).
// If the lookup fails, Check allows the call (fail-open, CONTRACT.md §3.7)
// with credential scope "unverified" and logs a warning: the provisioner's
// Preflight, which does not fail open, catches a missing key before
// anything starts.
//
// The platform provider's names are reserved (registry.Catalog.Reserved):
// they never count, whichever scope carries them, and a workspace secret
// with such a name is refused as an argument.
package gate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/metrics"
	"github.com/modelgate/modelgate/registry"
	"github.com/modelgate/modelgate/secrets"
	"github.com/rs/zerolog"
)

// MaxWorkspaceSecrets is the most workspace-scope secrets one call may carry.
const MaxWorkspaceSecrets = 64

// MaxSecretValueBytes is the largest accepted secret value, once trimmed.
const MaxSecretValueBytes = 16 << 10

// MaxSecretInputBytes bounds a secret value as given, before it is trimmed:
// a longer one is refused as too long (the same message as a value over
// MaxSecretValueBytes, naming the secret) without being looked at. It is
// the hard cap on the work and memory a hostile value costs on every path
// that stores a secret: set_org_secret, the "secrets" of
// provision_workspace, `mcp-server secret set` and the key-entry page. It
// equals the tools' cap on any other string argument (64 KiB).
const MaxSecretInputBytes = 64 << 10

// OrgSecretNames gives the gate the names of the org's usable credentials.
// The gate calls it at most once per decision, and only when the decision
// depends on the org's credentials (CONTRACT.md §3.6, §6): this is the one
// place that rule lives, for Check and Preflight alike. An implementation
// returns only names whose stored value is usable (not blank, decryptable);
// reserved names are ignored by the gate whatever it returns.
type OrgSecretNames interface {
	OrgSecretNames(ctx context.Context) ([]string, error)
}

// LookupFunc adapts a function to OrgSecretNames.
type LookupFunc func(ctx context.Context) ([]string, error)

// OrgSecretNames calls f.
func (f LookupFunc) OrgSecretNames(ctx context.Context) ([]string, error) { return f(ctx) }

// Request is what the gate decides on.
type Request struct {
	// Org is used only to label log lines.
	Org     string
	Runtime string
	Model   string
	// WorkspaceSecrets are the credentials given with the call (name → value).
	WorkspaceSecrets map[string]string
}

// Decision is an allowed request.
type Decision struct {
	Runtime        string
	Model          string // trimmed
	Provider       string
	PlatformBilled bool
	// CredentialScope is one of modelgate.Scope*.
	CredentialScope string
	// Name is the credential name that satisfied the provider ("" for a
	// platform model or an unverified decision).
	Name string
}

// Gate decides with one catalog. It is safe for concurrent use.
type Gate struct {
	catalog *registry.Catalog
	log     zerolog.Logger
	metrics *metrics.Metrics
}

// New returns a gate over catalog that logs fail-open warnings to log.
func New(catalog *registry.Catalog, log zerolog.Logger) *Gate {
	return &Gate{catalog: catalog, log: log}
}

// WithMetrics returns a copy of g that counts its decisions (Check, and
// CountPreflight for the provisioner; not AllowsWith, which is discovery)
// and fail-open allowances in m.
func (g *Gate) WithMetrics(m *metrics.Metrics) *Gate {
	c := *g
	c.metrics = m
	return &c
}

// Catalog returns the catalog the gate decides with.
func (g *Gate) Catalog() *registry.Catalog { return g.catalog }

// PlatformDefault returns the platform-billed model recommended on runtime,
// or "" when the runtime bills no model on the platform.
func (g *Gate) PlatformDefault(runtime string) string { return g.catalog.PlatformDefault(runtime) }

// Check runs the gate of provision_workspace (CONTRACT.md §3). It returns a
// Decision, or a *modelgate.Error with the code of the first failed check.
// The workspace secrets must be valid (ValidateSecrets); values are
// compared trimmed. A failing org lookup makes Check allow with scope
// "unverified" (fail-open), except for a model that only the org's names
// could settle among several open arms, which stays refused.
func (g *Gate) Check(ctx context.Context, req Request, org OrgSecretNames) (Decision, error) {
	if err := g.ValidateSecrets(req.WorkspaceSecrets); err != nil {
		return Decision{}, err
	}
	dec, err := g.check(ctx, req, org, true)
	g.count("check", req, dec, err)
	return dec, err
}

// count records a decision of Check or Preflight. The runtime and provider
// labels are catalog names only: a caller's made-up runtime is "unknown".
func (g *Gate) count(stage string, req Request, dec Decision, err error) {
	if g.metrics == nil {
		return
	}
	runtime := metrics.Unknown
	if _, ok := g.catalog.Runtime(req.Runtime); ok {
		runtime = req.Runtime
	}
	provider, code := dec.Provider, metrics.OK
	if err != nil {
		code = modelgate.ErrorCode(err)
		var e *modelgate.Error
		if errors.As(err, &e) {
			provider, _ = e.Details["provider"].(string)
		}
		if _, ok := g.catalog.Provider(provider); !ok {
			provider = ""
		}
	}
	g.metrics.GateDecision(stage, runtime, provider, code)
}

// CountPreflight records the final decision of the provisioner's preflight
// in the gate's metrics. Preflight does not count by itself: the provisioner
// counts the decision it acts on.
func (g *Gate) CountPreflight(req Request, dec Decision, err error) {
	g.count("preflight", req, dec, err)
}

// Preflight runs the same gate for the provisioner's backstop (CONTRACT.md
// §6), with the workspace's stored secrets in req and the org's usable
// credential names from org, which it reads exactly when Check would. It
// never fails open: a lookup error is returned as is (not a
// *modelgate.Error). A stored workspace secret that is blank or reserved
// does not count; it is not refused as an argument would be.
func (g *Gate) Preflight(ctx context.Context, req Request, org OrgSecretNames) (Decision, error) {
	return g.check(ctx, req, org, false)
}

func (g *Gate) check(ctx context.Context, req Request, org OrgSecretNames, failOpen bool) (Decision, error) {
	// Only a non-blank value under a name that is not reserved counts.
	wsNames := make(registry.NameSet, len(req.WorkspaceSecrets))
	for name, value := range req.WorkspaceSecrets {
		if strings.TrimSpace(value) != "" && !g.catalog.Reserved(name) {
			wsNames[name] = struct{}{}
		}
	}
	var allNames registry.NameSet
	looked := false
	// lookup reads the org's names once; every path below that needs them
	// calls it, and no other code decides when they are read.
	lookup := func() error {
		if looked {
			return nil
		}
		names, err := org.OrgSecretNames(ctx)
		if err != nil {
			return err
		}
		looked = true
		allNames = make(registry.NameSet, len(wsNames)+len(names))
		for n := range wsNames {
			allNames[n] = struct{}{}
		}
		for _, n := range names {
			if !g.catalog.Reserved(n) {
				allNames[n] = struct{}{}
			}
		}
		return nil
	}

	// 2–5. runtime, model, registration, provider: derivation.
	d, err := g.catalog.Derive(req.Runtime, req.Model, wsNames)
	if errors.Is(err, registry.ErrAmbiguous) {
		// Several open arms match and the workspace names do not choose
		// one: the available names include the org's (§2.4).
		if lerr := lookup(); lerr != nil {
			if !failOpen {
				return Decision{}, fmt.Errorf("gate: read org secret names: %w", lerr)
			}
			// Fail-open cannot choose a provider: the model stays ambiguous.
			g.metrics.StoreError("org_secret_names")
			g.log.Warn().Err(lerr).Str("org", req.Org).Str("runtime", req.Runtime).
				Msg("org secret lookup failed; an ambiguous model could not be settled")
			return Decision{}, err
		}
		d, err = g.catalog.Derive(req.Runtime, req.Model, allNames)
	}
	if err != nil {
		return Decision{}, err
	}
	dec := Decision{
		Runtime:        req.Runtime,
		Model:          strings.TrimSpace(req.Model),
		Provider:       d.Provider.Name,
		PlatformBilled: d.Provider.PlatformBilled(),
	}

	// 6. credential.
	if dec.PlatformBilled && g.catalog.ListedOn(req.Runtime, req.Model) > 1 && !looked {
		// Another arm lists the id too: an org key of its provider would
		// choose that arm (§2.3), so the org's names decide.
		if err := lookup(); err != nil {
			if !failOpen {
				return Decision{}, fmt.Errorf("gate: read org secret names: %w", err)
			}
			// A platform model needs no key: allow it as derived.
			g.log.Warn().Err(err).Str("org", req.Org).Str("runtime", dec.Runtime).Str("model", dec.Model).
				Msg("org secret lookup failed; a platform model listed on other arms too was allowed on the platform")
			dec.CredentialScope = modelgate.ScopePlatform
			return dec, nil
		}
		d, err = g.catalog.Derive(req.Runtime, req.Model, allNames)
		if err != nil {
			return Decision{}, err
		}
		dec.Provider, dec.PlatformBilled = d.Provider.Name, d.Provider.PlatformBilled()
	}
	if dec.PlatformBilled {
		dec.CredentialScope = modelgate.ScopePlatform
		return dec, nil
	}
	if name := firstAccepted(d.Provider, wsNames); name != "" {
		dec.CredentialScope, dec.Name = modelgate.ScopeWorkspace, name
		return dec, nil
	}
	if err := lookup(); err != nil {
		if !failOpen {
			return Decision{}, fmt.Errorf("gate: read org secret names: %w", err)
		}
		// 7. fail-open: the provisioner's Preflight re-checks.
		g.metrics.GateFailOpen()
		g.metrics.StoreError("org_secret_names")
		g.log.Warn().Err(err).Str("org", req.Org).Str("runtime", dec.Runtime).
			Str("model", dec.Model).Str("provider", dec.Provider).
			Msg("org secret lookup failed; gate allowed the call unverified (fail-open)")
		dec.CredentialScope = modelgate.ScopeUnverified
		return dec, nil
	}
	// An org key can move the model to another arm, so derive again.
	d, err = g.catalog.Derive(req.Runtime, req.Model, allNames)
	if err != nil {
		return Decision{}, err
	}
	dec.Provider, dec.PlatformBilled = d.Provider.Name, d.Provider.PlatformBilled()
	if dec.PlatformBilled {
		// Not reachable with a loaded catalog (no name chooses a platform
		// arm), but a platform provider never needs a credential.
		dec.CredentialScope = modelgate.ScopePlatform
		return dec, nil
	}
	if name := firstAccepted(d.Provider, wsNames); name != "" {
		dec.CredentialScope, dec.Name = modelgate.ScopeWorkspace, name
		return dec, nil
	}
	if name := firstAccepted(d.Provider, allNames); name != "" {
		dec.CredentialScope, dec.Name = modelgate.ScopeOrg, name
		return dec, nil
	}
	return Decision{}, g.missing(dec)
}

func (g *Gate) missing(dec Decision) *modelgate.Error {
	accepted := g.catalog.AcceptedNames(dec.Runtime, dec.Model)
	def := g.catalog.PlatformDefault(dec.Runtime)
	msg := fmt.Sprintf("model %q on runtime %q is served by %s (BYOK) and needs a credential, but none was found in the workspace secrets or the org secrets. "+
		"Add one of %s: as a workspace secret (the \"secrets\" argument of provision_workspace) or as an org secret (set_org_secret).",
		dec.Model, dec.Runtime, dec.Provider, strings.Join(accepted, ", "))
	if def != "" {
		msg += fmt.Sprintf(" Or choose the platform-billed model %q, which needs no key.", def)
	}
	e := &modelgate.Error{Code: modelgate.EMissingCredential, Message: msg}
	return e.WithDetail("runtime", dec.Runtime).
		WithDetail("model", dec.Model).
		WithDetail("provider", dec.Provider).
		WithDetail("auth_env", accepted).
		WithDetail("scopes_checked", []string{modelgate.ScopeWorkspace, modelgate.ScopeOrg}).
		WithDetail("platform_default_model", def)
}

func firstAccepted(p *registry.Provider, names registry.NameSet) string {
	for _, n := range p.AuthEnv {
		if names.Has(n) {
			return n
		}
	}
	return ""
}

// ValidateSecrets checks workspace-scope secrets as given (values are
// trimmed by the caller or compared trimmed): at most MaxWorkspaceSecrets,
// each passing ValidateSecret. The error (INVALID_ARGUMENT) names the
// offending key, never a value.
func (g *Gate) ValidateSecrets(s map[string]string) error {
	if len(s) > MaxWorkspaceSecrets {
		return modelgate.Errorf(modelgate.EInvalidArgument, "secrets: at most %d entries, got %d", MaxWorkspaceSecrets, len(s))
	}
	for name, value := range s {
		if err := g.ValidateSecret("secrets", "secrets", name, value); err != nil {
			return err
		}
	}
	return nil
}

// ValidateSecret checks one secret to be stored (CONTRACT.md §2, secret
// values): the name matches ^[A-Z_][A-Z0-9_]{0,127}$ and is not reserved;
// the value as given is at most MaxSecretInputBytes, and, trimmed of
// surrounding white space, is not empty, holds no NUL byte, is valid UTF-8
// and at most MaxSecretValueBytes. The name is checked first. nameField
// prefixes a message about the name and valueField one about the value
// (the argument at fault: "key" and "value" for set_org_secret, "secrets"
// for both in provision_workspace). The error (INVALID_ARGUMENT)
// names the secret, never the value; a name that is not a name is not
// repeated either (a value pasted where the name goes must not come back).
func (g *Gate) ValidateSecret(nameField, valueField, name, value string) error {
	if !secrets.ValidName(name) {
		return modelgate.Errorf(modelgate.EInvalidArgument, "%s: a name (%d characters) is not a credential name: names match ^[A-Z_][A-Z0-9_]{0,127}$, e.g. ANTHROPIC_API_KEY", nameField, utf8.RuneCountInString(name))
	}
	if g.catalog.Reserved(name) {
		return modelgate.Errorf(modelgate.EInvalidArgument, "%s: %s is reserved for the operator of this server (the platform's own credential) and cannot be set", nameField, name)
	}
	field := valueField
	if len(value) > MaxSecretInputBytes {
		return tooLong(field, name)
	}
	value = strings.TrimSpace(value)
	switch {
	case value == "":
		return modelgate.Errorf(modelgate.EInvalidArgument, "%s: the value of %s is empty (or only white space)", field, name)
	case strings.IndexByte(value, 0) >= 0:
		return modelgate.Errorf(modelgate.EInvalidArgument, "%s: the value of %s holds a NUL byte", field, name)
	case len(value) > MaxSecretValueBytes || !utf8.ValidString(value):
		return tooLong(field, name)
	}
	return nil
}

func tooLong(field, name string) error {
	return modelgate.Errorf(modelgate.EInvalidArgument, "%s: the value of %s must be valid UTF-8 of at most %d bytes", field, name, MaxSecretValueBytes)
}
