// Package tools defines modelgate's MCP tools: one file per tool, each with a
// constructor that returns the tool's definition and its handler together.
//
// Handlers are thin: they decode arguments, call the provision service (or
// the gate for discovery) and encode the answer. A successful call returns
// structuredContent matching the tool's outputSchema plus the same JSON as
// text. A refusal is an isError result whose one text block is the JSON
// object {"code", "error", ...details} of CONTRACT.md §4, so an agent can read
// the code and act. Errors without a code are logged with their detail and
// shown only as INTERNAL. Handlers never return a Go error: that would become
// a JSON-RPC error the model never sees.
package tools

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/keyentry"
	"github.com/modelgate/modelgate/provision"
	"github.com/rs/zerolog"
)

// Deps are what the tools need.
type Deps struct {
	Service *provision.Service
	Log     zerolog.Logger
	// KeyEntry, if not nil, offers the key link of a MISSING_BYOK_CREDENTIAL
	// refusal as a URL-mode elicitation to clients that support it (the
	// link itself is added by the service, see keyentry.Attach).
	KeyEntry *keyentry.Service
}

// All returns every tool, in the order tools/list shows them.
func All(d Deps) []server.ServerTool {
	return []server.ServerTool{
		ListOfferedModels(d),
		ProvisionWorkspace(d),
		GetWorkspace(d),
		ListWorkspaces(d),
		DeprovisionWorkspace(d),
		SetOrgSecret(d),
		ListOrgSecrets(d),
		DeleteOrgSecret(d),
	}
}

// IsReadOnly reports whether a tool declares readOnlyHint true.
func IsReadOnly(t mcp.Tool) bool {
	return t.Annotations.ReadOnlyHint != nil && *t.Annotations.ReadOnlyHint
}

// newTool builds a tool whose input schema is given raw (by
// mcp.WithRawInputSchema among opts): mcp.NewTool would also set a default
// structured input schema, and a tool may carry only one of the two.
func newTool(name string, opts ...mcp.ToolOption) mcp.Tool {
	t := mcp.Tool{Name: name}
	for _, o := range opts {
		o(&t)
	}
	return t
}

// annotations sets all four hints explicitly, as the contract asks.
func annotations(title string, readOnly, destructive, idempotent, openWorld bool) mcp.ToolOption {
	return mcp.WithToolAnnotation(mcp.ToolAnnotation{
		Title:           title,
		ReadOnlyHint:    &readOnly,
		DestructiveHint: &destructive,
		IdempotentHint:  &idempotent,
		OpenWorldHint:   &openWorld,
	})
}

// handler adapts a typed tool function: it resolves the caller, decodes the
// arguments (refusing unknown ones) and encodes the result or the error.
func handler(d Deps, tool string, fn func(ctx context.Context, caller modelgate.Caller, a *args) (any, error)) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		caller, ok := modelgate.CallerFrom(ctx)
		if !ok || caller.Org == "" {
			return ErrorResult(d.Log, tool, modelgate.Errorf(modelgate.EUnauthorized, "no org for this call")), nil
		}
		a, err := newArgs(req)
		if err != nil {
			return ErrorResult(d.Log, tool, err), nil
		}
		out, err := fn(ctx, caller, a)
		if err == nil {
			err = a.err
		}
		if err != nil {
			return ErrorResult(d.Log, tool, err), nil
		}
		return structured(out)
	}
}

// encodedJSON is an answer already encoded as JSON. It is a string because
// the encoding may be shared with other calls (list_offered_models keeps
// them): nobody can change it.
type encodedJSON string

// structured returns v as a result: structuredContent and the same JSON as
// text.
func structured(v any) (*mcp.CallToolResult, error) {
	if enc, ok := v.(encodedJSON); ok {
		// The structured content gets its own copy of the bytes; the text
		// shares the immutable string.
		return mcp.NewToolResultStructured(json.RawMessage(enc), string(enc)), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return mcp.NewToolResultStructured(json.RawMessage(b), string(b)), nil
}

// ErrorResult turns err into the contract's error result. The message of an
// uncoded error is replaced; its detail goes to the log only.
func ErrorResult(log zerolog.Logger, tool string, err error) *mcp.CallToolResult {
	code := modelgate.ErrorCode(err)
	obj := map[string]any{}
	var e *modelgate.Error
	if errors.As(err, &e) {
		for k, v := range e.Details {
			obj[k] = v
		}
	}
	obj["code"] = code
	obj["error"] = modelgate.ErrorMessage(err)
	if code == modelgate.EInternal {
		log.Error().Err(err).Str("tool", tool).Msg("tool call failed")
	}
	b, mErr := json.Marshal(obj)
	if mErr != nil {
		b = []byte(`{"code":"INTERNAL","error":"internal error; the details were logged"}`)
	}
	return &mcp.CallToolResult{
		Content: []mcp.Content{mcp.NewTextContent(string(b))},
		IsError: true,
	}
}
