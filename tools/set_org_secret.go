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
  "properties": {"key": {"type": "string"}, "updated_at": {"type": "string"}},
  "required": ["key", "updated_at"]
}`

var setOrgSecretInput = json.RawMessage(`{
  "type": "object",
  "properties": {
    "key": {"type": "string", "pattern": "^[A-Z_][A-Z0-9_]{0,127}$", "description": "A name of auth_env, e.g. ANTHROPIC_API_KEY."},
    "value": {"type": "string", "minLength": 1}
  },
  "required": ["key", "value"],
  "additionalProperties": false
}`)

// SetOrgSecret returns the set_org_secret tool.
func SetOrgSecret(d Deps) server.ServerTool {
	tool := newTool("set_org_secret",
		mcp.WithDescription("Store or replace an org-scope credential; BYOK models that accept its name then need no secrets. Encrypted at rest, never returned; a key its provider rejects is refused (INVALID_CREDENTIAL). For scripts: never ask a person to paste a key into the chat, give them add_key_url (provision_workspace's refusal)."),
		mcp.WithRawInputSchema(setOrgSecretInput),
		mcp.WithRawOutputSchema(json.RawMessage(secretInfoSchema)),
		annotations("Set org secret", false, false, true, false),
	)
	return server.ServerTool{Tool: tool, Handler: handler(d, tool.Name, func(ctx context.Context, caller modelgate.Caller, a *args) (any, error) {
		key, value := a.str("key"), a.secretValue("value")
		if err := a.done(); err != nil {
			return nil, err
		}
		return d.Service.SetOrgSecret(ctx, caller, key, value)
	})}
}
