package tools

import (
	"context"
	"encoding/json"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/modelgate/modelgate"
)

// SecretList is the result of list_org_secrets: one page.
type SecretList struct {
	Secrets    []modelgate.SecretInfo `json:"secrets"`
	NextCursor string                 `json:"next_cursor"`
}

var listOrgSecretsInput = json.RawMessage(`{
  "type": "object",
  "properties": {
    "limit": {"type": "integer", "minimum": 1, "maximum": 200, "default": 50},
    "cursor": {"type": "string"}
  },
  "additionalProperties": false
}`)

var listOrgSecretsOutput = json.RawMessage(`{
  "type": "object",
  "properties": {
    "secrets": {"type": "array", "items": ` + secretInfoSchema + `},
    "next_cursor": {"type": "string"}
  },
  "required": ["secrets", "next_cursor"]
}`)

// ListOrgSecrets returns the list_org_secrets tool.
func ListOrgSecrets(d Deps) server.ServerTool {
	tool := newTool("list_org_secrets",
		mcp.WithDescription("Names of your org's stored credentials and when each was set, by name, one page at a time, as list_workspaces. Never values."),
		mcp.WithRawInputSchema(listOrgSecretsInput),
		mcp.WithRawOutputSchema(listOrgSecretsOutput),
		annotations("List org secrets", true, false, true, false),
	)
	return server.ServerTool{Tool: tool, Handler: handler(d, tool.Name, func(ctx context.Context, caller modelgate.Caller, a *args) (any, error) {
		f := modelgate.SecretFilter{Limit: a.integer("limit", 50), Cursor: a.str("cursor")}
		if err := a.done(); err != nil {
			return nil, err
		}
		if f.Limit < 1 || f.Limit > 200 {
			return nil, modelgate.Errorf(modelgate.EInvalidArgument, "limit: must be 1..200, got %d", f.Limit)
		}
		list, next, err := d.Service.ListOrgSecrets(ctx, caller, f)
		if err != nil {
			return nil, err
		}
		if list == nil {
			list = []modelgate.SecretInfo{}
		}
		for i := range list {
			list[i].UpdatedAt = list[i].UpdatedAt.UTC().Truncate(time.Microsecond)
		}
		return SecretList{Secrets: list, NextCursor: next}, nil
	})}
}
