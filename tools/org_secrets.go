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

// SecretDeleted is the result of delete_org_secret.
type SecretDeleted struct {
	Key     string `json:"key"`
	Deleted bool   `json:"deleted"`
}

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

var keyInput = json.RawMessage(`{
  "type": "object",
  "properties": {"key": {"type": "string", "pattern": "^[A-Z_][A-Z0-9_]{0,127}$"}},
  "required": ["key"],
  "additionalProperties": false
}`)

// SetOrgSecret returns the set_org_secret tool.
func SetOrgSecret(d Deps) server.ServerTool {
	tool := newTool("set_org_secret",
		mcp.WithDescription("Store a credential for your whole org (org scope), e.g. ANTHROPIC_API_KEY, replacing any previous value. Every BYOK model that accepts this name can then be provisioned without passing secrets. The value is encrypted at rest and never returned or logged."),
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

// DeleteOrgSecret returns the delete_org_secret tool.
func DeleteOrgSecret(d Deps) server.ServerTool {
	tool := newTool("delete_org_secret",
		mcp.WithDescription("Delete one of your org's credentials. Workspaces not yet started that relied on it will fail with MISSING_BYOK_CREDENTIAL. Deleting a missing key reports deleted: false."),
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
