package provision

import (
	"context"
	"slices"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/registry"
)

// Offer is the answer of list_offered_models and of `mcp-server models
// --json` (CONTRACT.md §4): the runtime's arms in the order the gate tries
// them, each with what it needs.
type Offer struct {
	Runtime      string       `json:"runtime"`
	Runtimes     []string     `json:"runtimes"`
	DefaultModel string       `json:"default_model"`
	Arms         []OfferedArm `json:"arms"`
}

// OfferedArm is one arm of an Offer.
type OfferedArm struct {
	Provider       string `json:"provider"`
	PlatformBilled bool   `json:"platform_billed"`
	// AuthEnv is omitted on a platform arm: its names are the operator's.
	AuthEnv []string `json:"auth_env,omitempty"`
	// CredentialAvailable says whether the caller's org holds a usable
	// credential under one of AuthEnv; always true on a platform arm.
	CredentialAvailable bool `json:"credential_available"`
	// Models (sorted) on a closed arm, Pattern on an open one.
	Models  []string `json:"models,omitempty"`
	Pattern string   `json:"pattern,omitempty"`
}

// Offered answers list_offered_models for the caller's org: runtime's arms
// ("" = the default runtime) narrowed by f, with credential_available
// counted by the same lookup the gate uses (OrgCredentials), read at most
// once and only if a BYOK arm is shown. If that read fails, BYOK arms are
// shown without a credential and a warning is logged. It returns
// INVALID_ARGUMENT for a bad filter or runtime argument and
// RUNTIME_UNSUPPORTED (details "runtime", "runtimes") for an unknown runtime.
func (s *Service) Offered(ctx context.Context, caller modelgate.Caller, runtime string, f registry.Filter) (*Offer, error) {
	if err := CheckText("runtime", runtime, 0, MaxRuntimeBytes, false); err != nil {
		return nil, err
	}
	if err := CheckText("provider", f.Provider, 0, MaxRuntimeBytes, false); err != nil {
		return nil, err
	}
	cat := s.gate.Catalog()
	if runtime == "" {
		runtime = cat.DefaultRuntime()
	}
	arms, err := cat.Arms(runtime, f)
	if err != nil {
		return nil, err
	}
	out := &Offer{
		Runtime:      runtime,
		Runtimes:     cat.Runtimes(),
		DefaultModel: cat.PlatformDefault(runtime),
		Arms:         make([]OfferedArm, 0, len(arms)),
	}
	var held []string
	looked := false
	for _, a := range arms {
		oa := OfferedArm{Provider: a.Provider, PlatformBilled: a.PlatformBilled, AuthEnv: a.AuthEnv, Models: a.Models, Pattern: a.Pattern}
		if a.PlatformBilled {
			oa.CredentialAvailable = true
		} else {
			if !looked {
				looked = true
				if held, err = s.OrgCredentials(caller.Org).OrgSecretNames(ctx); err != nil {
					s.log.Warn().Err(err).Str("org", caller.Org).Msg("list_offered_models: org secret lookup failed; reporting BYOK arms without credential")
					held = nil
				}
			}
			oa.CredentialAvailable = slices.ContainsFunc(a.AuthEnv, func(n string) bool { return slices.Contains(held, n) })
		}
		out.Arms = append(out.Arms, oa)
	}
	return out, nil
}
