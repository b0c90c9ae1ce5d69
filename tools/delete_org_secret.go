package tools

import (
	"context"
	"encoding/json"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/modelgate/modelgate"
)

// SecretDeleted is the result of delete_org_secret.
type SecretDeleted struct {
	Key     string `json:"key"`
	Deleted bool   `json:"deleted"`
}

var keyInput = json.RawMessage(`{
  "type": "object",
  "properties": {"key": {"type": "string", "pattern": "^[A-Z_][A-Z0-9_]{0,127}$"}},
  "required": ["key"],
  "additionalProperties": false
}`)

// DeleteOrgSecret returns the delete_org_secret tool.
func DeleteOrgSecret(d Deps) server.ServerTool {
	tool := newTool("delete_org_secret",
		mcp.WithDescription("Delete one of your org's credentials; workspaces not yet started that need it will fail with MISSING_BYOK_CREDENTIAL. A missing key gives deleted: false."),
		mcp.WithRawInputSchema(keyInput),
		mcp.WithRawOutputSchema(json.RawMessage(`{
  "type": "object",
  "properties": {"key": {"type": "string"}, "deleted": {"type": "boolean"}},
  "required": ["key", "deleted"]
}`)),
		annotations("Delete org secret", false, true, true, false),
	)
	return server.ServerTool{Tool: tool, Handler: handler(d, tool.Name, func(ctx context.Context, caller modelgate.Caller, a *args) (any, error) {
		key := a.str("key")
		if err := a.done(); err != nil {
			return nil, err
		}
		deleted, err := d.Service.DeleteOrgSecret(ctx, caller, key)
		if err != nil {
			return nil, err
		}
		return SecretDeleted{Key: key, Deleted: deleted}, nil
	})}
}
