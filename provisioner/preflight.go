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
	// decision is the gate's decision with the current credentials; its
	// provider may differ from the one stored at creation (an org key can
	// move a model to another arm).
	decision gate.Decision
	// creds are the credentials the derived provider accepts: workspace
	// secrets first, then org secrets.
	creds map[string]string
	// redactor removes every value decrypted for this job, passed on or not.
	redactor *secrets.Redactor
}

// redact removes every decrypted value from s.
func (pf *preflight) redact(s string) string { return pf.redactor.Redact(s) }

// preflight runs the gate again with the workspace's stored secrets and the
// org's current ones (CONTRACT.md §6). It never fails open: an error is a
// store failure, and the caller leaves the row to be claimed again.
//
// The org secrets are read only when the gate would consult them: the gate
// decides a platform-billed model before it looks at org secrets, so for
// one the first call, without them, is already the answer. For a BYOK model
// they are read (the driver may get an accepted org credential besides the
// workspace's), and the second call, with them, is the answer.
func (p *Provisioner) preflight(ctx context.Context, w *modelgate.Workspace) (*preflight, error) {
	log := p.log.With().Str("org", w.Org).Str("workspace", w.ID).Logger()
	sealed, err := p.opts.Store.WorkspaceSecrets(ctx, w.Org, w.ID)
	if err != nil {
		return nil, fmt.Errorf("read workspace secrets: %w", err)
	}
	ws, badWS := p.open(log, secrets.ScopeWorkspace, w.Org+"/"+w.ID, sealed)
	req := gate.Request{Org: w.Org, Runtime: w.Runtime, Model: w.Model, WorkspaceSecrets: ws}
	dec, err := p.opts.Gate.Preflight(ctx, req, nil)

	var org map[string]string
	var badOrg []string
	if (err == nil && !dec.PlatformBilled) || modelgate.ErrorCode(err) == modelgate.EMissingCredential {
		sealedOrg, readErr := p.opts.Store.OrgSecrets(ctx, w.Org)
		if readErr != nil {
			return nil, fmt.Errorf("read org secrets: %w", readErr)
		}
		org, badOrg = p.open(log, secrets.ScopeOrg, w.Org, sealedOrg)
		dec, err = p.opts.Gate.Preflight(ctx, req, org)
	}
	p.opts.Gate.CountPreflight(req, dec, err)

	values := make([]string, 0, len(ws)+len(org))
	for _, m := range []map[string]string{ws, org} {
		for _, v := range m {
			values = append(values, v)
		}
	}
	pf := &preflight{redactor: secrets.NewRedactor(values...)}
	if err != nil {
		var refusal *modelgate.Error
		if !errors.As(err, &refusal) {
			return nil, fmt.Errorf("preflight: %w", err)
		}
		r := *refusal
		if note := undecryptable(badWS, badOrg); note != "" {
			r.Message += " " + note
		}
		pf.refusal = &r
		return pf, nil
	}
	pf.decision = dec
	pf.creds = map[string]string{}
	if dec.PlatformBilled {
		return pf, nil
	}
	provider, ok := p.opts.Gate.Catalog().Provider(dec.Provider)
	if !ok {
		// The gate derived it from this catalog, so this is a programmer error.
		return nil, fmt.Errorf("preflight: derived provider %q is not in the catalog", dec.Provider)
	}
	for _, name := range provider.AuthEnv {
		if v := ws[name]; v != "" {
			pf.creds[name] = v
		} else if v := org[name]; v != "" {
			pf.creds[name] = v
		}
	}
	return pf, nil
}

// open decrypts sealed secrets of one owner. A value that does not open
// (sealed with a key this server does not hold, or tampered) is left out,
// logged by name, and its name returned in bad; an empty value is left out
// as the gate would ignore it.
func (p *Provisioner) open(log zerolog.Logger, scope, owner string, sealed []modelgate.SealedSecret) (values map[string]string, bad []string) {
	values = make(map[string]string, len(sealed))
	for _, s := range sealed {
		plain, err := p.opts.Keys.Open(scope, owner, s.Name, s.Sealed)
		if err != nil {
			// The error names the row and the key id, never the value.
			log.Error().Err(err).Str("scope", scope).Str("secret", s.Name).
				Msg("a stored secret does not open with this server's keys; ignoring it")
			bad = append(bad, s.Name)
			continue
		}
		if len(plain) > 0 {
			values[s.Name] = string(plain)
		}
		clear(plain)
	}
	return values, bad
}

// undecryptable explains a refusal that secrets we could not open may have
// caused.
func undecryptable(ws, org []string) string {
	var parts []string
	if len(ws) > 0 {
		slices.Sort(ws)
		parts = append(parts, "workspace secrets "+strings.Join(ws, ", "))
	}
	if len(org) > 0 {
		slices.Sort(org)
		parts = append(parts, "org secrets "+strings.Join(org, ", "))
	}
	if parts == nil {
		return ""
	}
	return "These stored " + strings.Join(parts, " and ") + " could not be decrypted with the provisioner's keys and were ignored (was a key dropped from MODELGATE_SECRETS_PREVIOUS_KEYS?)."
}
