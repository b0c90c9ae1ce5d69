package tools

import (
	"context"
	"encoding/json"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/modelgate/modelgate"
)

// workspaceSchema is the JSON schema of one workspace in results.
const workspaceSchema = `{
  "type": "object",
  "properties": {
    "id": {"type": "string"},
    "name": {"type": "string"},
    "role": {"type": "string"},
    "tier": {"type": "integer"},
    "runtime": {"type": "string"},
    "model": {"type": "string"},
    "provider": {"type": "string"},
    "platform_billed": {"type": "boolean"},
    "credential_scope": {"type": "string"},
    "status": {"type": "string", "enum": ["provisioning", "online", "failed", "removed"]},
    "status_code": {"type": "string"},
    "status_message": {"type": "string"},
    "parent_id": {"type": "string"},
    "attempts": {"type": "integer"},
    "created_at": {"type": "string"},
    "updated_at": {"type": "string"}
  },
  "required": ["id", "name", "role", "tier", "runtime", "model", "provider", "platform_billed", "status", "status_code", "status_message", "parent_id", "created_at", "updated_at"]
}`

var idInput = json.RawMessage(`{
  "type": "object",
  "properties": {"id": {"type": "string"}},
  "required": ["id"],
  "additionalProperties": false
}`)

// GetWorkspace returns the get_workspace tool.
func GetWorkspace(d Deps) server.ServerTool {
	tool := newTool("get_workspace",
		mcp.WithDescription("One workspace of your org by id: model, provider, status and, for a failure, status_code and status_message saying what to fix. Another org's id is NOT_FOUND."),
		mcp.WithRawInputSchema(idInput),
		mcp.WithRawOutputSchema(json.RawMessage(workspaceSchema)),
		annotations("Get workspace", true, false, true, false),
	)
	return server.ServerTool{Tool: tool, Handler: handler(d, tool.Name, func(ctx context.Context, caller modelgate.Caller, a *args) (any, error) {
		id := a.str("id")
		if err := a.done(); err != nil {
			return nil, err
		}
		return d.Service.Get(ctx, caller, id)
	})}
}
