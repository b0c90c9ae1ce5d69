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

const provisionWorkspaceDescription = `Create a workspace that runs an agent runtime on a model, after checking that it can really start.

Before anything is written, the BYOK gate checks the runtime, that the model id is registered for it (call list_offered_models first: use an id an arm lists, or one an open arm's pattern admits), and that a BYOK model has a credential: one of its auth_env names as a workspace secret ("secrets") or as an org secret. A refusal is an error result with a code (UNREGISTERED_MODEL_FOR_RUNTIME with suggestions, MISSING_BYOK_CREDENTIAL with the accepted names and a platform-billed alternative, INVALID_CREDENTIAL when the provider rejects a key given in "secrets", ...) and writes nothing. Platform-billed models need no key.

Never ask the person to paste a key into the chat: when MISSING_BYOK_CREDENTIAL carries add_key_url, give them that link (they enter the key in their browser), then retry.

Use dry_run to check without creating. Pass an idempotency_key when you may retry: the same key returns the first result and creates nothing new. Secret values are never echoed.`

var provisionWorkspaceInput = json.RawMessage(`{
  "type": "object",
  "properties": {
    "name": {"type": "string", "minLength": 1, "maxLength": 255, "description": "Workspace name, unique in the org among workspaces that are not removed."},
    "runtime": {"type": "string", "description": "Agent runtime. Default: the server's default runtime."},
    "model": {"type": "string", "description": "Model id as list_offered_models lists it, or one an open arm's pattern admits."},
    "secrets": {
      "type": "object",
      "description": "Workspace-scope credentials: ENV_NAME -> value (trimmed, not blank; platform names are reserved). Stored encrypted, never returned.",
      "propertyNames": {"pattern": "^[A-Z_][A-Z0-9_]{0,127}$"},
      "additionalProperties": {"type": "string", "minLength": 1},
      "maxProperties": 64
    },
    "tier": {"type": "integer", "minimum": 1, "maximum": 4, "default": 3},
    "role": {"type": "string", "maxLength": 1000, "description": "What the workspace is for."},
    "parent_id": {"type": "string", "description": "An existing workspace of the same org."},
    "idempotency_key": {"type": "string", "maxLength": 128},
    "dry_run": {"type": "boolean", "default": false, "description": "Run every check, write nothing, report what would happen."},
    "wait_seconds": {"type": "integer", "minimum": 0, "maximum": 120, "default": 0, "description": "Wait up to this long for the workspace to become online or failed and return that status (progress notifications are sent while waiting if you asked for progress)."}
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
    "status_code": {"type": "string", "description": "Why a workspace failed (MISSING_BYOK_CREDENTIAL, INVALID_CREDENTIAL, DRIVER_FAILED, PROVISION_TIMEOUT)."},
    "status_message": {"type": "string", "description": "What happened and what to fix."}
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
