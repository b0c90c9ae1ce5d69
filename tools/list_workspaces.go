package tools

import (
	"context"
	"encoding/json"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/modelgate/modelgate"
)

// WorkspacePage is the result of list_workspaces.
type WorkspacePage struct {
	Workspaces []*modelgate.Workspace `json:"workspaces"`
	NextCursor string                 `json:"next_cursor"`
}

var listWorkspacesInput = json.RawMessage(`{
  "type": "object",
  "properties": {
    "status": {"type": "string", "enum": ["provisioning", "online", "failed", "removed"], "description": "Only this status."},
    "limit": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
    "cursor": {"type": "string"}
  },
  "additionalProperties": false
}`)

var listWorkspacesOutput = json.RawMessage(`{
  "type": "object",
  "properties": {
    "workspaces": {"type": "array", "items": ` + workspaceSchema + `},
    "next_cursor": {"type": "string"}
  },
  "required": ["workspaces", "next_cursor"]
}`)

// ListWorkspaces returns the list_workspaces tool.
func ListWorkspaces(d Deps) server.ServerTool {
	tool := newTool("list_workspaces",
		mcp.WithDescription("Your org's workspaces, oldest first, one page at a time: pass next_cursor back as cursor (empty on the last page). Removed ones only with status removed."),
		mcp.WithRawInputSchema(listWorkspacesInput),
		mcp.WithRawOutputSchema(listWorkspacesOutput),
		annotations("List workspaces", true, false, true, false),
	)
	return server.ServerTool{Tool: tool, Handler: handler(d, tool.Name, func(ctx context.Context, caller modelgate.Caller, a *args) (any, error) {
		f := modelgate.WorkspaceFilter{Status: a.str("status"), Limit: a.integer("limit", 50), Cursor: a.str("cursor")}
		if err := a.done(); err != nil {
			return nil, err
		}
		if f.Limit < 1 || f.Limit > 200 {
			return nil, modelgate.Errorf(modelgate.EInvalidArgument, "limit: must be 1..200, got %d", f.Limit)
		}
		ws, next, err := d.Service.List(ctx, caller, f)
		if err != nil {
			return nil, err
		}
		if ws == nil {
			ws = []*modelgate.Workspace{}
		}
		return WorkspacePage{Workspaces: ws, NextCursor: next}, nil
	})}
}
