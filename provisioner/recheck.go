package provisioner

import (
	"context"
	"slices"
	"time"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/verify"
)

// recheck is the live half of the backstop (CONTRACT.md §8), run after the
// gate allowed the workspace and before the driver is called: each
// credential the driver would get, whose name the derived provider's check
// covers and whose last check is older than VerifyMaxAge (or that was never
// checked), is checked again. It returns the INVALID_CREDENTIAL refusal for
// the first key the provider rejects, and nil otherwise: no verdict (the
// provider down, slow or redirecting) never stops a workspace.
//
// Each verdict is recorded on the stored secret it was made on
// (RecordSecretCheck, matched by ciphertext). A rejected org secret is
// marked rejected, so discovery and the gate count it as no key, only when
// its name's check is unambiguous (verify.Checker.OrgProvider): a name
// that several providers use with different keys may still be good for
// another provider.
func (p *Provisioner) recheck(ctx context.Context, w *modelgate.Workspace, pf *preflight) *modelgate.Error {
	v := p.opts.Verifier
	if !v.Enabled() || pf.decision.PlatformBilled || len(pf.creds) == 0 {
		return nil
	}
	provider, ok := p.opts.Gate.Catalog().Provider(pf.decision.Provider)
	if !ok {
		return nil
	}
	log := p.log.With().Str("org", w.Org).Str("workspace", w.ID).Logger()
	names := make([]string, 0, len(pf.creds))
	for name := range pf.creds {
		if v.Applies(provider, name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		scope := pf.credScope[name]
		stored, ok := pf.stored[scope][name]
		if !ok {
			continue // a value the preflight did not read: nothing to re-check
		}
		if !stored.CheckedAt.IsZero() && time.Since(stored.CheckedAt) < p.opts.VerifyMaxAge {
			continue
		}
		owner := ""
		if scope == modelgate.ScopeWorkspace {
			owner = w.ID
		}
		r, _ := v.Check(ctx, verify.Request{Org: w.Org, Scope: scope, WorkspaceID: owner, Provider: provider, Name: name, Value: pf.creds[name]})
		switch r.Verdict {
		case modelgate.VerdictValid:
			stored.CheckedAt, stored.RejectedAt = r.At, time.Time{}
		case modelgate.VerdictRejected:
			if scope == modelgate.ScopeWorkspace || v.OrgProvider(name) != nil {
				stored.CheckedAt, stored.RejectedAt = r.At, r.At
			}
		default:
			continue
		}
		if _, err := p.opts.Store.RecordSecretCheck(ctx, w.Org, owner, stored); err != nil {
			log.Warn().Err(err).Str("secret", name).Msg("could not record a credential check")
		}
		if r.Verdict == modelgate.VerdictRejected {
			return modelgate.Errorf(modelgate.EInvalidCredential,
				"provider %s rejected the %s secret %s (HTTP %d) when the workspace was about to start: the key is revoked, mistyped or out of credit. Store a working key under %s and provision again.",
				provider.Name, scope, name, r.Status, name).
				WithDetail("provider", provider.Name).WithDetail("name", name).WithDetail("provider_status", r.Status)
		}
	}
	return nil
}
