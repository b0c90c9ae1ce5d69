package tools

import (
	"context"
	"encoding/json"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/modelgate/modelgate"
)

// SecretList is the result of list_org_secrets.
type SecretList struct {
	Secrets []modelgate.SecretInfo `json:"secrets"`
}

// ListOrgSecrets returns the list_org_secrets tool.
func ListOrgSecrets(d Deps) server.ServerTool {
	tool := newTool("list_org_secrets",
		mcp.WithDescription("List the names of your org's stored credentials and when each was last set. Values are never shown."),
		mcp.WithRawInputSchema(json.RawMessage(`{"type": "object", "properties": {}, "additionalProperties": false}`)),
		mcp.WithRawOutputSchema(json.RawMessage(`{
  "type": "object",
  "properties": {"secrets": {"type": "array", "items": `+secretInfoSchema+`}},
  "required": ["secrets"]
}`)),
		annotations("List org secrets", true, false, true, false),
	)
	return server.ServerTool{Tool: tool, Handler: handler(d, tool.Name, func(ctx context.Context, caller modelgate.Caller, a *args) (any, error) {
		if err := a.done(); err != nil {
			return nil, err
		}
		list, err := d.Service.ListOrgSecrets(ctx, caller)
		if err != nil {
			return nil, err
		}
		if list == nil {
			list = []modelgate.SecretInfo{}
		}
		for i := range list {
			list[i].UpdatedAt = list[i].UpdatedAt.UTC().Truncate(time.Microsecond)
		}
		return SecretList{Secrets: list}, nil
	})}
}
