package tools

import (
	"context"
	"encoding/json"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/registry"
)

const listOfferedModelsDescription = `What a runtime can run: its arms in the order provisioning tries them. Call before provision_workspace; never guess an id.
- models: exact ids; pattern: an open arm taking any id it matches with something after the match.
- platform_billed arms need no key. Others need one name of auth_env as a workspace or org secret; credential_available: the org has one.
- An id on several arms: the first arm your keys satisfy, else the first listing it. default_model needs no key.`

var listOfferedModelsInput = json.RawMessage(`{
  "type": "object",
  "properties": {
    "runtime": {"type": "string", "description": "Default: the server's default runtime."},
    "provider": {"type": "string", "description": "Only this provider's arm."},
    "billing": {"type": "string", "enum": ["platform", "byok", "all"], "default": "all"}
  },
  "additionalProperties": false
}`)

var listOfferedModelsOutput = json.RawMessage(`{
  "type": "object",
  "properties": {
    "runtime": {"type": "string"},
    "runtimes": {"type": "array", "items": {"type": "string"}},
    "default_model": {"type": "string"},
    "arms": {"type": "array", "items": {"type": "object", "properties": {
      "provider": {"type": "string"},
      "platform_billed": {"type": "boolean"},
      "auth_env": {"type": "array", "items": {"type": "string"}},
      "credential_available": {"type": "boolean"},
      "models": {"type": "array", "items": {"type": "string"}},
      "pattern": {"type": "string"}},
      "required": ["provider", "platform_billed", "credential_available"]}}
  },
  "required": ["runtime", "runtimes", "default_model", "arms"]
}`)

// ListOfferedModels returns the list_offered_models tool. Its answer is
// provision.Service.Offered, which `mcp-server models` prints too, taken
// already encoded (OfferedJSON): the encodings are shared between calls
// that get the same bytes, and still pass through the whole tool pipeline.
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
		enc, err := d.Service.OfferedJSON(ctx, caller, runtime, registry.Filter{Provider: provider, Billing: billing})
		return encodedJSON(enc), err
	})}
}
