package tools

import (
	"context"
	"encoding/json"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/registry"
)

// OfferedModel is one entry of list_offered_models.
type OfferedModel struct {
	Model          string   `json:"model"`
	Provider       string   `json:"provider"`
	PlatformBilled bool     `json:"platform_billed"`
	AuthEnv        []string `json:"auth_env,omitempty"`
	// CredentialAvailable says whether provision_workspace would allow the
	// model now for the caller's org with no workspace secrets.
	CredentialAvailable bool `json:"credential_available"`
}

// OfferedModels is the result of list_offered_models.
type OfferedModels struct {
	Runtime      string         `json:"runtime"`
	Runtimes     []string       `json:"runtimes"`
	DefaultModel string         `json:"default_model"`
	Models       []OfferedModel `json:"models"`
}

const listOfferedModelsDescription = `List every model id a runtime offers, with its provider and what it needs to start.

Use this before provision_workspace and pass one of the listed ids exactly; never guess an id.
- platform_billed: true means the operator pays: the model needs no key and always provisions.
- Otherwise the model is BYOK (bring your own key): it needs one credential named in auth_env, given either as a workspace secret ("secrets" of provision_workspace) or as an org secret (set_org_secret). credential_available says whether the caller's org already has one.
- The "namespace/model" form alone does not promise platform billing on every runtime: the same id can be platform-billed on one runtime and BYOK on another. Trust platform_billed, not the shape of the id.
- default_model is a platform-billed model of the runtime that needs no key.`

var listOfferedModelsInput = json.RawMessage(`{
  "type": "object",
  "properties": {
    "runtime": {"type": "string", "description": "Agent runtime, e.g. claude-code, codex, hermes, openclaw, google-adk. Default: the server's default runtime."},
    "provider": {"type": "string", "description": "Only models served by this provider."},
    "billing": {"type": "string", "enum": ["platform", "byok", "all"], "default": "all", "description": "platform: only models that need no key; byok: only models that need a credential."}
  },
  "additionalProperties": false
}`)

var listOfferedModelsOutput = json.RawMessage(`{
  "type": "object",
  "properties": {
    "runtime": {"type": "string"},
    "runtimes": {"type": "array", "items": {"type": "string"}},
    "default_model": {"type": "string"},
    "models": {
      "type": "array",
      "items": {
        "type": "object",
        "properties": {
          "model": {"type": "string"},
          "provider": {"type": "string"},
          "platform_billed": {"type": "boolean"},
          "auth_env": {"type": "array", "items": {"type": "string"}},
          "credential_available": {"type": "boolean"}
        },
        "required": ["model", "provider", "platform_billed", "credential_available"]
      }
    }
  },
  "required": ["runtime", "runtimes", "default_model", "models"]
}`)

// ListOfferedModels returns the list_offered_models tool.
func ListOfferedModels(d Deps) server.ServerTool {
	tool := newTool("list_offered_models",
		mcp.WithDescription(listOfferedModelsDescription),
		mcp.WithRawInputSchema(listOfferedModelsInput),
		mcp.WithRawOutputSchema(listOfferedModelsOutput),
		annotations("List offered models", true, false, true, false),
	)
	return server.ServerTool{Tool: tool, Handler: handler(d, tool.Name, func(ctx context.Context, caller modelgate.Caller, a *args) (any, error) {
		runtime, provider, billing := a.str("runtime"), a.str("provider"), a.str("billing")
		if err := a.done(); err != nil {
			return nil, err
		}
		return Offered(ctx, d, caller, runtime, registry.Filter{Provider: provider, Billing: billing})
	})}
}

// Offered computes the list_offered_models answer; `mcp-server models` prints
// the same. It makes at most one query: the org's secret names, and only if
// a listed model is BYOK. If that query fails, BYOK models are reported
// without a credential and a warning is logged.
func Offered(ctx context.Context, d Deps, caller modelgate.Caller, runtime string, f registry.Filter) (*OfferedModels, error) {
	g := d.Service.Gate()
	cat := g.Catalog()
	if runtime == "" {
		runtime = cat.DefaultRuntime()
	}
	offered, err := cat.Offered(runtime, f)
	if err != nil {
		return nil, err
	}
	out := &OfferedModels{
		Runtime:      runtime,
		Runtimes:     cat.Runtimes(),
		DefaultModel: g.PlatformDefault(runtime),
		Models:       make([]OfferedModel, 0, len(offered)),
	}
	var orgNames []string
	looked := false
	for _, m := range offered {
		om := OfferedModel{Model: m.Model, Provider: m.Provider, PlatformBilled: m.PlatformBilled, AuthEnv: m.AuthEnv}
		if m.PlatformBilled {
			om.CredentialAvailable = true
		} else {
			if !looked {
				looked = true
				orgNames, err = d.Service.Store().OrgSecretNames(ctx, caller.Org)
				if err != nil {
					d.Log.Warn().Err(err).Str("org", caller.Org).Msg("list_offered_models: org secret lookup failed; reporting BYOK models as without credential")
					orgNames = nil
				}
			}
			om.CredentialAvailable = len(orgNames) > 0 && g.AllowsWith(ctx, runtime, m.Model, orgNames)
		}
		out.Models = append(out.Models, om)
	}
	return out, nil
}
