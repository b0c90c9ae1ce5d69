package tools

import (
	"context"
	"encoding/json"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/gate"
	"github.com/modelgate/modelgate/provision"
)

const provisionWorkspaceDescription = `Create a workspace that runs an agent runtime on a model, only if it can really start.

Before any write the gate checks the runtime, the model id (one list_offered_models lists, or one an open arm's pattern admits) and, for a BYOK model, one of its auth_env names as a workspace secret ("secrets") or an org secret. A refusal is a coded error and writes nothing: UNREGISTERED_MODEL_FOR_RUNTIME (suggestions), MISSING_BYOK_CREDENTIAL (accepted names, a platform-billed alternative, add_key_url), INVALID_CREDENTIAL (the provider rejected the key).

Never ask the person to paste a key into the chat: give them add_key_url (they enter the key in their browser), then retry. dry_run checks without writing; the same idempotency_key returns the first result.`

var provisionWorkspaceInput = json.RawMessage(`{
  "type": "object",
  "properties": {
    "name": {"type": "string", "minLength": 1, "maxLength": 255, "description": "Unique in the org among live workspaces."},
    "runtime": {"type": "string", "description": "Default: the server's default runtime."},
    "model": {"type": "string"},
    "secrets": {
      "type": "object",
      "description": "Workspace-scope keys, ENV_NAME -> value; never returned.",
      "propertyNames": {"pattern": "^[A-Z_][A-Z0-9_]{0,127}$"},
      "additionalProperties": {"type": "string", "minLength": 1},
      "maxProperties": 64
    },
    "tier": {"type": "integer", "minimum": 1, "maximum": 4, "default": 3},
    "role": {"type": "string", "maxLength": 1000},
    "parent_id": {"type": "string", "description": "A workspace of the same org."},
    "idempotency_key": {"type": "string", "maxLength": 128},
    "dry_run": {"type": "boolean", "default": false},
    "wait_seconds": {"type": "integer", "minimum": 0, "maximum": 120, "default": 0, "description": "Wait this long at most for online or failed (with progress notifications if asked)."}
  },
  "required": ["name", "model"],
  "additionalProperties": false
}`)

var provisionResultOutput = json.RawMessage(`{
  "type": "object",
  "properties": {
    "id": {"type": "string"},
    "name": {"type": "string"},
    "status": {"type": "string", "enum": ["provisioning", "online", "failed", "removed"]},
    "runtime": {"type": "string"},
    "model": {"type": "string"},
    "provider": {"type": "string"},
    "platform_billed": {"type": "boolean"},
    "credential_scope": {"type": "string", "enum": ["platform", "workspace", "org", "unverified"]},
    "dry_run": {"type": "boolean"},
    "status_code": {"type": "string"},
    "status_message": {"type": "string"}
  },
  "required": ["id", "name", "status", "runtime", "model", "provider", "platform_billed", "credential_scope", "dry_run"]
}`)

// ProvisionWorkspace returns the provision_workspace tool.
func ProvisionWorkspace(d Deps) server.ServerTool {
	tool := newTool("provision_workspace",
		mcp.WithDescription(provisionWorkspaceDescription),
		mcp.WithRawInputSchema(provisionWorkspaceInput),
		mcp.WithRawOutputSchema(provisionResultOutput),
		annotations("Provision workspace", false, false, false, false),
	)
	return server.ServerTool{Tool: tool, Handler: handler(d, tool.Name, func(ctx context.Context, caller modelgate.Caller, a *args) (any, error) {
		req := provision.Request{
			Name:           a.str("name"),
			Runtime:        a.str("runtime"),
			Model:          a.str("model"),
			Secrets:        a.stringMap("secrets", gate.MaxWorkspaceSecrets),
			Tier:           a.integer("tier", provision.DefaultTier),
			Role:           a.str("role"),
			ParentID:       a.str("parent_id"),
			IdempotencyKey: a.str("idempotency_key"),
			DryRun:         a.boolean("dry_run"),
		}
		wait := a.integer("wait_seconds", 0)
		err := a.done()
		if err == nil && req.Tier == 0 {
			// provision.Request reads 0 as "not given"; an explicit 0 is out of range.
			err = modelgate.Errorf(modelgate.EInvalidArgument, "tier: must be 1..4, got 0")
		}
		if err == nil && (wait < 0 || wait > provision.MaxWaitSeconds) {
			err = modelgate.Errorf(modelgate.EInvalidArgument, "wait_seconds: must be 0..%d, got %d", provision.MaxWaitSeconds, wait)
		}
		if err != nil {
			// Refused before the service saw it: still a decision to record.
			d.Service.AuditRefusal(ctx, caller, req, err)
			return nil, err
		}
		res, err := d.Service.Provision(ctx, caller, req)
		if err != nil {
			d.KeyEntry.Elicit(ctx, err)
		}
		if err != nil || wait == 0 || res.DryRun || res.Status != modelgate.StatusProvisioning {
			return res, err
		}
		w, err := d.Service.Wait(ctx, caller, res.ID, time.Duration(wait)*time.Second, progress(ctx, a.progressToken(), wait))
		if err != nil {
			return nil, err
		}
		return provision.ResultOf(w), nil
	})}
}

// progress returns a tick function that sends MCP progress notifications
// for tok (or nil when the client did not ask for progress).
func progress(ctx context.Context, tok mcp.ProgressToken, total int) func(time.Duration) {
	if tok == nil {
		return nil
	}
	s := server.ServerFromContext(ctx)
	if s == nil {
		return nil
	}
	return func(waited time.Duration) {
		_ = s.SendNotificationToClient(ctx, "notifications/progress", map[string]any{
			"progressToken": tok,
			"progress":      waited.Seconds(),
			"total":         float64(total),
			"message":       "waiting for the workspace to start",
		})
	}
}
