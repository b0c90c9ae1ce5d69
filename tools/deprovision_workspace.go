package tools

import (
	"context"
	"encoding/json"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/modelgate/modelgate"
)

var deprovisionInput = json.RawMessage(`{
  "type": "object",
  "properties": {
    "id": {"type": "string", "description": "Workspace id."},
    "confirm_name": {"type": "string", "description": "The workspace's exact name, to confirm."}
  },
  "required": ["id", "confirm_name"],
  "additionalProperties": false
}`)

// DeprovisionWorkspace returns the deprovision_workspace tool.
func DeprovisionWorkspace(d Deps) server.ServerTool {
	tool := newTool("deprovision_workspace",
		mcp.WithDescription("Remove a workspace (status becomes \"removed\"; its name can be used again). confirm_name must equal the workspace's name exactly, or the call is refused with CONFIRMATION_REQUIRED. Removing a removed workspace changes nothing."),
		mcp.WithRawInputSchema(deprovisionInput),
		mcp.WithRawOutputSchema(json.RawMessage(workspaceSchema)),
		annotations("Deprovision workspace", false, true, true, false),
	)
	return server.ServerTool{Tool: tool, Handler: handler(d, tool.Name, func(ctx context.Context, caller modelgate.Caller, a *args) (any, error) {
		id, confirm := a.str("id"), a.str("confirm_name")
		if err := a.done(); err != nil {
			return nil, err
		}
		return d.Service.Deprovision(ctx, caller, id, confirm)
	})}
}
