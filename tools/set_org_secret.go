package tools

import (
	"context"
	"encoding/json"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/modelgate/modelgate"
)

const secretInfoSchema = `{
  "type": "object",
  "properties": {"key": {"type": "string"}, "updated_at": {"type": "string", "format": "date-time"}},
  "required": ["key", "updated_at"]
}`

var setOrgSecretInput = json.RawMessage(`{
  "type": "object",
  "properties": {
    "key": {"type": "string", "pattern": "^[A-Z_][A-Z0-9_]{0,127}$", "description": "Credential name, e.g. ANTHROPIC_API_KEY (see auth_env in list_offered_models)."},
    "value": {"type": "string", "minLength": 1, "description": "The credential. Stored encrypted; never returned."}
  },
  "required": ["key", "value"],
  "additionalProperties": false
}`)

// SetOrgSecret returns the set_org_secret tool.
func SetOrgSecret(d Deps) server.ServerTool {
	tool := newTool("set_org_secret",
		mcp.WithDescription("Store an org-scope credential (e.g. ANTHROPIC_API_KEY), replacing any previous value; BYOK models that accept the name then need no secrets. Encrypted at rest, never returned. A key its provider rejects is refused (INVALID_CREDENTIAL). Never ask a person to paste a key into the chat: give them the add_key_url of provision_workspace's refusal."),
		mcp.WithRawInputSchema(setOrgSecretInput),
		mcp.WithRawOutputSchema(json.RawMessage(secretInfoSchema)),
		annotations("Set org secret", false, false, true, false),
	)
	return server.ServerTool{Tool: tool, Handler: handler(d, tool.Name, func(ctx context.Context, caller modelgate.Caller, a *args) (any, error) {
		key, value := a.str("key"), a.str("value")
		if err := a.done(); err != nil {
			return nil, err
		}
		return d.Service.SetOrgSecret(ctx, caller, key, value)
	})}
}
