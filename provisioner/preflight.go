package provisioner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/rs/zerolog"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/gate"
	"github.com/modelgate/modelgate/secrets"
)

// preflight is what the backstop decided for one job.
type preflight struct {
	// refusal, if set, is the gate's answer: the workspace fails with it
	// and the driver is not called. decision and creds are then unset.
	refusal *modelgate.Error
	// hold, if set, is an operator fault that keeps the workspace from
	// starting without being its user's fault (a stored secret that does
	// not decrypt): the workspace stays provisioning with this message and
	// is claimed again after its lease.
	hold string
	// decision is the gate's decision with the current credentials; its
	// provider may differ from the one stored at creation (an org key can
	// move a model to another arm).
	decision gate.Decision
	// creds are the credentials the derived provider accepts: workspace
	// secrets first, then org secrets.
	creds map[string]string
	// redactor removes every value decrypted for this job, passed on or not.
	redactor *secrets.Redactor
	// stored are the sealed secrets creds came from, by scope and name,
	// with the verdicts of their last live checks, and credScope the scope
	// each of creds came from (for recheck.go).
	stored    map[string]map[string]modelgate.SealedSecret
	credScope map[string]string
}

// redact removes every decrypted value from s.
func (pf *preflight) redact(s string) string { return pf.redactor.Redact(s) }

// preflight runs the gate again with the workspace's stored secrets and the
// org's current ones (CONTRACT.md §6). It never fails open: an error is a
// store failure, and the caller leaves the row to be claimed again.
//
// It does not decide when the org's secrets are read: it hands the gate a
// lookup that reads and decrypts them, and the gate calls it exactly when
// provision_workspace's gate would read the org's names (gate.Preflight).
// A stored secret counts only if it decrypts to a non-blank value
// (secrets.Keyring.OpenAll), as for the create-time gate. When the gate
// refuses and a stored secret did not decrypt, the refusal may be the
// operator's fault (a key missing from the configuration), so the
// workspace is held, not failed.
func (p *Provisioner) preflight(ctx context.Context, w *modelgate.Workspace) (*preflight, error) {
	log := p.log.With().Str("org", w.Org).Str("workspace", w.ID).Logger()
	sealed, err := p.opts.Store.WorkspaceSecrets(ctx, w.Org, w.ID)
	if err != nil {
		return nil, fmt.Errorf("read workspace secrets: %w", err)
	}
	ws := p.opts.Keys.OpenAll(secrets.ScopeWorkspace, w.Org+"/"+w.ID, sealed)
	p.logUndecryptable(log, secrets.ScopeWorkspace, ws)
	stored := map[string]map[string]modelgate.SealedSecret{modelgate.ScopeWorkspace: byName(sealed)}
	var org secrets.Opened
	var orgSealed []modelgate.SealedSecret
	lookup := gate.LookupFunc(func(ctx context.Context) ([]string, error) {
		s, err := p.opts.Store.OrgSecrets(ctx, w.Org)
		if err != nil {
			return nil, fmt.Errorf("read org secrets: %w", err)
		}
		// A key the provider rejected counts as no key, as it does for
		// the create-time gate (provision.Service.OrgCredentials).
		s = slices.DeleteFunc(s, func(s modelgate.SealedSecret) bool { return !s.RejectedAt.IsZero() })
		orgSealed = s
		stored[modelgate.ScopeOrg] = byName(s)
		org = p.opts.Keys.OpenAll(secrets.ScopeOrg, w.Org, s)
		p.logUndecryptable(log, secrets.ScopeOrg, org)
		return org.Names(), nil
	})
	req := gate.Request{Org: w.Org, Runtime: w.Runtime, Model: w.Model, WorkspaceSecrets: ws.Values}
	dec, err := p.opts.Gate.Preflight(ctx, req, lookup)
	if err == nil && !dec.PlatformBilled && orgSealed == nil {
		// Decided by a workspace secret. The decision stands; the org's
		// secrets are read only to hand the driver every accepted
		// credential (workspace first, then org), as for any BYOK model.
		if _, err = lookup(ctx); err != nil {
			return nil, err
		}
	}
	p.opts.Gate.CountPreflight(req, dec, err)

	values := make([]string, 0, len(ws.Values)+len(org.Values))
	for _, m := range []map[string]string{ws.Values, org.Values} {
		for _, v := range m {
			values = append(values, v)
		}
	}
	pf := &preflight{redactor: secrets.NewRedactor(values...), stored: stored}
	if err != nil {
		var refusal *modelgate.Error
		if !errors.As(err, &refusal) {
			return nil, fmt.Errorf("preflight: %w", err)
		}
		if len(ws.Undecryptable)+len(org.Undecryptable) > 0 {
			pf.hold = holdMessage(sealed, ws, orgSealed, org)
			return pf, nil
		}
		r := *refusal
		pf.refusal = &r
		return pf, nil
	}
	pf.decision = dec
	pf.creds, pf.credScope = map[string]string{}, map[string]string{}
	if dec.PlatformBilled {
		return pf, nil
	}
	provider, ok := p.opts.Gate.Catalog().Provider(dec.Provider)
	if !ok {
		// The gate derived it from this catalog, so this is a programmer error.
		return nil, fmt.Errorf("preflight: derived provider %q is not in the catalog", dec.Provider)
	}
	for _, name := range provider.AuthEnv {
		if v := ws.Values[name]; v != "" {
			pf.creds[name], pf.credScope[name] = v, modelgate.ScopeWorkspace
		} else if v := org.Values[name]; v != "" {
			pf.creds[name], pf.credScope[name] = v, modelgate.ScopeOrg
		}
	}
	return pf, nil
}

// byName indexes sealed secrets by name.
func byName(sealed []modelgate.SealedSecret) map[string]modelgate.SealedSecret {
	m := make(map[string]modelgate.SealedSecret, len(sealed))
	for _, s := range sealed {
		m[s.Name] = s
	}
	return m
}

// logUndecryptable logs each stored secret that did not open, by name and
// with its error (which names the key id, never the value).
func (p *Provisioner) logUndecryptable(log zerolog.Logger, scope string, o secrets.Opened) {
	for _, name := range o.Undecryptable {
		log.Error().Err(o.Errors[name]).Str("scope", scope).Str("secret", name).
			Msg("a stored secret does not open with this server's keys; it does not count")
	}
}

// holdMessage is the status message of a workspace held for secrets that
// do not decrypt: which ones, under which key id, and what the operator
// does about it.
func holdMessage(wsSealed []modelgate.SealedSecret, ws secrets.Opened, orgSealed []modelgate.SealedSecret, org secrets.Opened) string {
	var parts []string
	describe := func(scope string, sealed []modelgate.SealedSecret, o secrets.Opened) {
		for _, name := range o.Undecryptable {
			keyID := ""
			for _, s := range sealed {
				if s.Name == name {
					keyID = s.Sealed.KeyID
				}
			}
			why := "does not decrypt (wrong key or damaged row)"
			if errors.Is(o.Errors[name], secrets.ErrUnknownKey) {
				why = "is sealed under key id " + keyID + ", which this server does not have"
			}
			parts = append(parts, fmt.Sprintf("%s secret %s %s", scope, name, why))
		}
	}
	describe(secrets.ScopeWorkspace, wsSealed, ws)
	describe(secrets.ScopeOrg, orgSealed, org)
	slices.Sort(parts)
	return "waiting for the operator: stored " + strings.Join(parts, "; ") +
		". This is a server configuration fault, not a missing credential: give the server that key (MODELGATE_SECRETS_KEY or MODELGATE_SECRETS_PREVIOUS_KEYS); the workspace stays provisioning and is retried."
}
