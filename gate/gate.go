// Package gate is the BYOK gate: the one function that decides whether a
// workspace for (runtime, model) can really start with the credentials at
// hand. provision_workspace runs it before any database write; the
// provisioner runs it again (Preflight) before a workspace starts, and
// list_offered_models reports what it would decide. Because all three call
// this package, discovery and enforcement cannot disagree.
//
// The gate is cheap by design: a platform-billed model, or a BYOK model whose
// credential came with the call, is decided with no database query; otherwise
// exactly one query reads the org's secret names. If that query fails, Check
// allows the call (fail-open, CONTRACT.md §3.7) with credential scope
// "unverified" and logs a warning: the provisioner's Preflight, which does
// not fail open, catches a missing key before anything starts.
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

// MaxSecretValueBytes is the largest accepted secret value.
const MaxSecretValueBytes = 16 << 10

// OrgSecretNames reads the names of the caller's org secrets. It is the only
// database access the gate makes.
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
// A failing org lookup makes Check allow with scope "unverified" (fail-open).
func (g *Gate) Check(ctx context.Context, req Request, org OrgSecretNames) (Decision, error) {
	dec, err := g.check(ctx, req, org.OrgSecretNames, true)
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

// Preflight runs the same gate for the provisioner, with the org's current
// secrets (name → value; empty values do not count). It never fails open.
func (g *Gate) Preflight(ctx context.Context, req Request, orgSecrets map[string]string) (Decision, error) {
	return g.check(ctx, req, func(context.Context) ([]string, error) {
		names := make([]string, 0, len(orgSecrets))
		for name, value := range orgSecrets {
			if value != "" {
				names = append(names, name)
			}
		}
		return names, nil
	}, false)
}

// CountPreflight records the final decision of the provisioner's preflight
// in the gate's metrics. The provisioner may call Preflight twice for one
// workspace (without, then with, the org's secrets), so Preflight does not
// count by itself.
func (g *Gate) CountPreflight(req Request, dec Decision, err error) {
	g.count("preflight", req, dec, err)
}

func (g *Gate) check(ctx context.Context, req Request, lookup func(context.Context) ([]string, error), failOpen bool) (Decision, error) {
	// 1. arguments: the workspace secrets.
	if err := ValidateSecrets(req.WorkspaceSecrets); err != nil {
		return Decision{}, err
	}
	wsNames := make(registry.NameSet, len(req.WorkspaceSecrets))
	for name := range req.WorkspaceSecrets {
		wsNames[name] = struct{}{}
	}

	// 2–5. runtime, model, registration, provider: derivation.
	d, err := g.catalog.Derive(req.Runtime, req.Model, wsNames)
	var orgNames []string
	looked := false
	if err != nil {
		if !ambiguous(err) {
			return Decision{}, err
		}
		// Several open arms match and the workspace names do not choose
		// one: the available names include the org's (§2.4), so read them
		// now and derive with both scopes.
		names, lerr := lookup(ctx)
		if lerr != nil {
			if !failOpen {
				return Decision{}, fmt.Errorf("gate: read org secret names: %w", lerr)
			}
			// Fail-open cannot choose a provider: the model stays ambiguous.
			g.metrics.StoreError("org_secret_names")
			g.log.Warn().Err(lerr).Str("org", req.Org).Str("runtime", req.Runtime).
				Msg("org secret lookup failed; an ambiguous model could not be settled")
			return Decision{}, err
		}
		orgNames, looked = names, true
		if d, err = g.catalog.Derive(req.Runtime, req.Model, union(wsNames, orgNames)); err != nil {
			return Decision{}, err
		}
	}
	dec := Decision{
		Runtime:        req.Runtime,
		Model:          strings.TrimSpace(req.Model),
		Provider:       d.Provider.Name,
		PlatformBilled: d.Provider.PlatformBilled(),
	}

	// 6. credential.
	if dec.PlatformBilled {
		dec.CredentialScope = modelgate.ScopePlatform
		return dec, nil
	}
	if name := firstAccepted(d.Provider, wsNames); name != "" {
		dec.CredentialScope, dec.Name = modelgate.ScopeWorkspace, name
		return dec, nil
	}
	if !looked {
		orgNames, err = lookup(ctx)
	}
	if err != nil {
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
	all := union(wsNames, orgNames)
	// An org key can move the model to another arm, so derive again.
	d, err = g.catalog.Derive(req.Runtime, req.Model, all)
	if err != nil {
		return Decision{}, err
	}
	dec.Provider, dec.PlatformBilled = d.Provider.Name, d.Provider.PlatformBilled()
	if name := firstAccepted(d.Provider, wsNames); name != "" {
		dec.CredentialScope, dec.Name = modelgate.ScopeWorkspace, name
		return dec, nil
	}
	if name := firstAccepted(d.Provider, all); name != "" {
		dec.CredentialScope, dec.Name = modelgate.ScopeOrg, name
		return dec, nil
	}
	return Decision{}, g.missing(dec)
}

// AllowsWith reports whether the gate would allow model on runtime with no
// workspace secrets and exactly the given org secret names: the
// credential_available of list_offered_models.
func (g *Gate) AllowsWith(ctx context.Context, runtime, model string, orgNames []string) bool {
	_, err := g.check(ctx, Request{Runtime: runtime, Model: model}, func(context.Context) ([]string, error) {
		return orgNames, nil
	}, false)
	return err == nil
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

// union returns the names of both scopes in one set.
func union(ws registry.NameSet, org []string) registry.NameSet {
	all := make(registry.NameSet, len(ws)+len(org))
	for name := range ws {
		all[name] = struct{}{}
	}
	for _, name := range org {
		all[name] = struct{}{}
	}
	return all
}

// ambiguous reports whether err is Derive's refusal of an id that several
// open arms' patterns match (its details name the "candidates").
func ambiguous(err error) bool {
	var e *modelgate.Error
	if !errors.As(err, &e) || e.Code != modelgate.EUnregisteredModel {
		return false
	}
	_, ok := e.Details["candidates"]
	return ok
}

func firstAccepted(p *registry.Provider, names registry.NameSet) string {
	for _, n := range p.AuthEnv {
		if names.Has(n) {
			return n
		}
	}
	return ""
}

// ValidateSecrets checks workspace-scope secrets: at most
// MaxWorkspaceSecrets, names like ^[A-Z_][A-Z0-9_]{0,127}$, values non-empty
// valid UTF-8 of at most MaxSecretValueBytes. The error (INVALID_ARGUMENT)
// names the offending key, never a value.
func ValidateSecrets(s map[string]string) error {
	if len(s) > MaxWorkspaceSecrets {
		return modelgate.Errorf(modelgate.EInvalidArgument, "secrets: at most %d entries, got %d", MaxWorkspaceSecrets, len(s))
	}
	for name, value := range s {
		if !secrets.ValidName(name) {
			// The name is not repeated: a value pasted where the name goes
			// must not come back in the error.
			return modelgate.Errorf(modelgate.EInvalidArgument, "secrets: a name (%d characters) is not a credential name: names match ^[A-Z_][A-Z0-9_]{0,127}$, e.g. ANTHROPIC_API_KEY", utf8.RuneCountInString(name))
		}
		if value == "" {
			return modelgate.Errorf(modelgate.EInvalidArgument, "secrets: value of %s is empty", name)
		}
		if len(value) > MaxSecretValueBytes || !utf8.ValidString(value) {
			return modelgate.Errorf(modelgate.EInvalidArgument, "secrets: value of %s must be valid UTF-8 of at most %d bytes", name, MaxSecretValueBytes)
		}
	}
	return nil
}
