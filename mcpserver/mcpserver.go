// Package mcpserver assembles modelgate's MCP server: the tools, the
// instructions that teach an agent the namespace rule, and the policies that
// decide which tools a caller may see and call (server-wide read-only mode,
// an allow-list, read-only tokens). The transports (stdio here; streamable
// HTTP and SSE in http.go) only decide who the caller is.
package mcpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/metrics"
	"github.com/modelgate/modelgate/ratelimit"
	"github.com/modelgate/modelgate/tools"
)

// Name is the server name reported at initialize.
const Name = "modelgate"

// Instructions are sent to clients at initialize; they teach the workflow.
const Instructions = `modelgate provisions agent workspaces (a runtime such as claude-code or codex running a model) that will really start.

Workflow: call list_offered_models for the runtime, pick an id an arm lists (or one an open arm's pattern admits), then call provision_workspace.
- Platform-billed ids (platform_billed: true) need no key.
- BYOK ids need one credential named in their auth_env: pass it in "secrets" of provision_workspace (workspace scope) or store it once with set_org_secret (org scope). credential_available tells you whether the org already has one for that arm.
- The "namespace/model" form alone is not a promise of platform billing on every runtime; trust platform_billed for the runtime you use.
- Never guess an id: an unregistered id is refused with suggestions, and a BYOK id without a key is refused with MISSING_BYOK_CREDENTIAL naming the accepted keys and a platform-billed alternative. Refused calls write nothing.
- Never ask the person to paste a key into the chat: a MISSING_BYOK_CREDENTIAL refusal carries add_key_url, a one-time page where they enter it in their browser; give them the link, then retry.
After provisioning, get_workspace shows the status (provisioning, online, failed with a status_code and what to fix).`

// Options configure New. The zero value of each field means the default.
type Options struct {
	Deps tools.Deps
	// Version is reported at initialize.
	Version string
	// ReadOnly hides and refuses every tool that is not readOnly.
	ReadOnly bool
	// Allow, when not empty, is the only tools served.
	Allow []string
	// CallTimeout bounds each tool call (and every query it makes); 0 means 10s.
	CallTimeout time.Duration
	// ValidateOutput makes the server check every structured result against
	// the tool's outputSchema (used by tests).
	ValidateOutput bool
	// Hooks are passed to the MCP server (optional). New adds its own hook
	// (hiding write tools from read-only tokens) to them.
	Hooks *server.Hooks
	// Limiter limits tool calls per org and per token (nil: no limit).
	Limiter *ratelimit.Limiter
	// Metrics counts tool calls and rate-limit refusals (nil: not counted).
	Metrics *metrics.Metrics
	// Deferred, if not nil, supplies the tools' dependencies later, so that
	// nothing initialize does not need stands before its answer (stdio
	// start-up). The server calls it, on a goroutine of its own, once it has
	// answered initialize, or when another request (not ping) comes first,
	// and registers the tools when it returns (Deps is used only for its Log
	// until then). Every request except initialize and ping waits for that;
	// if Deferred fails, those requests fail with an internal error.
	Deferred func() (tools.Deps, error)
	// DeferUntil, if not nil, replaces "once it has answered initialize"
	// above: Deferred is called when DeferUntil is closed (stdio closes it
	// once the initialize answer is written, so that opening the store does
	// not compete with writing it) or when a request other than initialize
	// and ping comes first.
	DeferUntil <-chan struct{}
}

// New returns the MCP server. It returns an error when Allow names a tool
// that does not exist.
func New(o Options) (*server.MCPServer, error) {
	all := tools.All(o.Deps)
	names := make([]string, len(all))
	for i, t := range all {
		names[i] = t.Tool.Name
	}
	for _, a := range o.Allow {
		if !slices.Contains(names, a) {
			return nil, fmt.Errorf("--tools: unknown tool %q (known: %v)", a, names)
		}
	}
	if o.CallTimeout == 0 {
		o.CallTimeout = 10 * time.Second
	}
	hooks := o.Hooks
	if hooks == nil {
		hooks = &server.Hooks{}
	}
	hooks.AddAfterListTools(hideWriteTools)
	// The first middleware is the outermost: metrics see every outcome,
	// including a recovered panic, a refusal and a rate limit.
	opts := []server.ServerOption{
		server.WithInstructions(Instructions),
		server.WithToolCapabilities(false),
		server.WithToolHandlerMiddleware(count(o.Metrics)),
		server.WithRecovery(),
		server.WithToolHandlerMiddleware(refuseWriteToReadOnlyToken(all, o.Deps)),
		server.WithToolHandlerMiddleware(limit(o.Limiter, o.Deps, o.Metrics)),
		server.WithToolHandlerMiddleware(timeout(o.CallTimeout)),
		server.WithToolFilter(filter(o)),
		server.WithHooks(hooks),
	}
	if o.ValidateOutput {
		opts = append(opts, server.WithOutputSchemaValidation())
	}
	if o.Deferred != nil {
		var s *server.MCPServer
		start, wait := deferTools(o.Deferred, func() *server.MCPServer { return s })
		if o.DeferUntil != nil {
			go func() { <-o.DeferUntil; start() }()
		} else {
			hooks.AddAfterInitialize(func(context.Context, any, *mcp.InitializeRequest, *mcp.InitializeResult) { start() })
		}
		hooks.AddOnRequestInitialization(wait)
		s = server.NewMCPServer(Name, o.Version, opts...)
		return s, nil
	}
	s := server.NewMCPServer(Name, o.Version, opts...)
	s.AddTools(all...)
	return s, nil
}

// deferTools returns start, which calls deferred once on a goroutine of
// its own and registers the tools it returns on the server, and the request
// hook that holds every request but initialize and ping until that is done
// (starting it if nothing did yet).
func deferTools(deferred func() (tools.Deps, error), srv func() *server.MCPServer) (start func(), wait server.OnRequestInitializationFunc) {
	done := make(chan struct{})
	var failed error
	var once sync.Once
	start = func() {
		once.Do(func() {
			go func() {
				defer close(done)
				deps, err := deferred()
				if err != nil {
					// The error goes to the log (by the caller), not to the client.
					failed = modelgate.Errorf(modelgate.EInternal, "the server could not start; its log says why")
					return
				}
				srv().AddTools(tools.All(deps)...)
			}()
		})
	}
	wait = func(_ context.Context, _ any, message any) error {
		select {
		case <-done:
			return failed
		default:
		}
		if raw, ok := message.(json.RawMessage); ok {
			var m struct {
				Method string `json:"method"`
			}
			if json.Unmarshal(raw, &m) == nil && (m.Method == string(mcp.MethodInitialize) || m.Method == string(mcp.MethodPing)) {
				return nil
			}
		}
		start()
		// Not cut short by ctx: the end of stdin cancels the requests in
		// flight, and a tools/list written just before it must still be
		// answered. Deferred ends either way.
		<-done
		return failed
	}
	return start, wait
}

// filter hides the tools this server does not serve (--read-only, --tools).
// mcp-go applies the same filter when a tool is called, so such a call is
// answered as for a tool that does not exist: on this server it does not.
//
// A read-only token is not a filter: the tool exists and a read-write token
// may call it, so a read-only token's call gets an answer that says so
// (refuseWriteToReadOnlyToken), and tools/list hides the write tools from it
// (hideWriteTools). mcp-go passes a filter no hint of whether it serves a
// list or a call, which is why the two halves live in a hook and a
// middleware.
func filter(o Options) server.ToolFilterFunc {
	return func(ctx context.Context, ts []mcp.Tool) []mcp.Tool {
		out := ts[:0:0]
		for _, t := range ts {
			if o.ReadOnly && !tools.IsReadOnly(t) {
				continue
			}
			if len(o.Allow) > 0 && !slices.Contains(o.Allow, t.Name) {
				continue
			}
			out = append(out, t)
		}
		return out
	}
}

// hideWriteTools removes the write tools from the tools/list answer of a
// read-only token, so a read-only client sees only what it may call.
func hideWriteTools(ctx context.Context, _ any, _ *mcp.ListToolsRequest, res *mcp.ListToolsResult) {
	if caller, _ := modelgate.CallerFrom(ctx); !caller.ReadOnly || res == nil {
		return
	}
	res.Tools = slices.DeleteFunc(res.Tools, func(t mcp.Tool) bool { return !tools.IsReadOnly(t) })
}

// refuseWriteToReadOnlyToken answers a read-only token's call to a write
// tool with FORBIDDEN, saying what would make it work, before the tool runs
// (so the refused call writes nothing).
func refuseWriteToReadOnlyToken(all []server.ServerTool, d tools.Deps) server.ToolHandlerMiddleware {
	writes := map[string]bool{}
	for _, t := range all {
		if !tools.IsReadOnly(t.Tool) {
			writes[t.Tool.Name] = true
		}
	}
	return func(next server.ToolHandlerFunc) server.ToolHandlerFunc {
		return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if c, _ := modelgate.CallerFrom(ctx); c.ReadOnly && writes[req.Params.Name] {
				e := modelgate.Errorf(modelgate.EForbidden,
					"%s changes data and needs a read-write token; this token (%s) is read-only. Create one with: mcp-server token create --org %s --name NAME (without --read-only)",
					req.Params.Name, c.TokenPrefix, c.Org)
				return tools.ErrorResult(d.Log, req.Params.Name, e), nil
			}
			return next(ctx, req)
		}
	}
}

// count records each tool call's outcome code and duration in m.
func count(m *metrics.Metrics) server.ToolHandlerMiddleware {
	return func(next server.ToolHandlerFunc) server.ToolHandlerFunc {
		if m == nil {
			return next
		}
		return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			start := time.Now()
			res, err := next(ctx, req)
			c, _ := modelgate.CallerFrom(ctx)
			m.ToolCall(req.Params.Name, outcome(res, err), c.Org, time.Since(start))
			return res, err
		}
	}
}

// outcome is the code of a tool call's result: OK, the code of its isError
// result, or INTERNAL for a Go error (which mcp-go turns into a JSON-RPC
// error). Only error results are decoded, so a success costs nothing.
func outcome(res *mcp.CallToolResult, err error) string {
	if err != nil || res == nil {
		return modelgate.EInternal
	}
	if !res.IsError {
		return metrics.OK
	}
	for _, c := range res.Content {
		if t, ok := c.(mcp.TextContent); ok {
			var v struct{ Code string }
			if json.Unmarshal([]byte(t.Text), &v) == nil && v.Code != "" {
				return v.Code
			}
		}
	}
	return metrics.Unknown
}

// limit refuses a tool call with RATE_LIMITED when the caller's org or
// token is over its rate, unless the HTTP layer already counted the request.
func limit(l *ratelimit.Limiter, d tools.Deps, m *metrics.Metrics) server.ToolHandlerMiddleware {
	return func(next server.ToolHandlerFunc) server.ToolHandlerFunc {
		if l == nil {
			return next
		}
		return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if !ratelimit.Checked(ctx) {
				c, _ := modelgate.CallerFrom(ctx)
				if ok, wait := l.Allow(Keys(c)...); !ok {
					m.RateLimited("tool", c.Org)
					secs := ratelimit.RetrySeconds(wait)
					e := modelgate.Errorf(modelgate.ERateLimited, "too many calls for org %q; retry in %d s", c.Org, secs).
						WithDetail("retry_after_seconds", secs)
					return tools.ErrorResult(d.Log, req.Params.Name, e), nil
				}
			}
			return next(ctx, req)
		}
	}
}

// Keys returns the rate-limit buckets a caller draws from: its org and,
// on the network transports, its token.
func Keys(c modelgate.Caller) []string {
	keys := []string{"org:" + c.Org}
	if c.TokenPrefix != "" {
		keys = append(keys, "token:"+c.TokenPrefix)
	}
	return keys
}

// timeout gives every tool call a deadline that reaches every query. A call
// that asks to wait (a wait_seconds argument, as provision_workspace has)
// gets that long on top.
func timeout(d time.Duration) server.ToolHandlerMiddleware {
	return func(next server.ToolHandlerFunc) server.ToolHandlerFunc {
		return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			budget := d
			if w, ok := req.GetArguments()["wait_seconds"].(float64); ok && w > 0 && w <= 3600 {
				budget += time.Duration(w * float64(time.Second))
			}
			ctx, cancel := context.WithTimeout(ctx, budget)
			defer cancel()
			return next(ctx, req)
		}
	}
}

// WithOrg returns a context whose tool calls act for org: what the stdio
// transport and in-process clients use.
func WithOrg(ctx context.Context, org string) context.Context {
	return modelgate.WithCaller(ctx, modelgate.Caller{Org: org})
}
