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
    "id": {"type": "string"},
    "confirm_name": {"type": "string", "description": "The workspace's exact name."}
  },
  "required": ["id", "confirm_name"],
  "additionalProperties": false
}`)

// removedSchema is the output schema of deprovision_workspace. The result is
// the whole workspace (as get_workspace), but its schema names only what a
// caller checks after a removal: every byte of a tool definition is paid for
// in each client's context.
var removedSchema = json.RawMessage(`{
  "type": "object",
  "properties": {
    "id": {"type": "string"},
    "name": {"type": "string"},
    "status": {"type": "string", "enum": ["removed"]},
    "updated_at": {"type": "string"}
  },
  "required": ["id", "name", "status", "updated_at"]
}`)

// DeprovisionWorkspace returns the deprovision_workspace tool.
func DeprovisionWorkspace(d Deps) server.ServerTool {
	tool := newTool("deprovision_workspace",
		mcp.WithDescription("Remove a workspace: its status becomes removed and its name is free again. confirm_name must equal its name (else CONFIRMATION_REQUIRED). Removing it again changes nothing."),
		mcp.WithRawInputSchema(deprovisionInput),
		mcp.WithRawOutputSchema(removedSchema),
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
