package mcpserver_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/auth"
	"github.com/modelgate/modelgate/gate"
	"github.com/modelgate/modelgate/mcpserver"
	"github.com/modelgate/modelgate/metrics"
	"github.com/modelgate/modelgate/postgres/pgtest"
	"github.com/modelgate/modelgate/provision"
	"github.com/modelgate/modelgate/ratelimit"
	"github.com/modelgate/modelgate/registry"
	"github.com/modelgate/modelgate/secrets"
	"github.com/modelgate/modelgate/sqlite"
	"github.com/modelgate/modelgate/tools"
	"github.com/rs/zerolog"
)

// testKey seals secrets in every test server, so replicas share it.
var testKey = func() []byte {
	b, _ := base64.StdEncoding.DecodeString("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
	return b
}()

// canary is a secret value that must never come back.
const canary = "sk-ant-canary-http-5c1d"

var protocols = []struct{ name, version string }{
	{"2025-11-25", mcp.ProtocolVersion20251125},
	{"client default", ""},
}

type setupOpts struct {
	transport string          // "" = streamable HTTP
	store     modelgate.Store // nil = a new embedded store
	ready     func(context.Context) error
	anonymous *modelgate.Caller
	// production skips the output-schema check the tests make, as the
	// server does (for benchmarks).
	production bool
	limiter    *ratelimit.Limiter
	metrics    *metrics.Metrics
}

type testBundle struct {
	url       string
	transport string
	store     modelgate.Store
	mcp       *server.MCPServer
	handler   *mcpserver.HTTPHandler
}

// newHandler builds the MCP server and its HTTP handler over a store.
func newHandler(t testing.TB, o setupOpts, so mcpserver.HTTPOptions) testBundle {
	t.Helper()
	if o.transport == "" {
		o.transport = mcpserver.TransportHTTP
	}
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	store := o.store
	if store == nil {
		db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "modelgate.db"), sqlite.Options{Log: log})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		store = db
	}
	keys, err := secrets.NewKeyring(testKey)
	if err != nil {
		t.Fatal(err)
	}
	svc := provision.New(store, gate.New(registry.Default(), log).WithMetrics(o.metrics), keys, log)
	s, err := mcpserver.New(mcpserver.Options{Deps: tools.Deps{Service: svc, Log: log}, Version: "test", ValidateOutput: !o.production, Limiter: o.limiter, Metrics: o.metrics})
	if err != nil {
		t.Fatal(err)
	}
	so.Transport = o.transport
	authn := auth.New(store, auth.Options{Anonymous: o.anonymous, Log: log})
	if o.production {
		// As serve does: tokens are cached while the revocation feed runs.
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); authn.WatchRevocations(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
	}
	so.Auth = authn.Middleware
	so.Ready = o.ready
	so.Limiter = o.limiter
	so.Metrics = o.metrics
	so.Log = log
	h, err := mcpserver.NewHTTPHandler(s, so)
	if err != nil {
		t.Fatal(err)
	}
	return testBundle{transport: o.transport, store: store, mcp: s, handler: h}
}

// setup serves a new handler on an httptest server (on 127.0.0.1).
func setup(t testing.TB, o setupOpts) testBundle {
	t.Helper()
	b := newHandler(t, o, mcpserver.HTTPOptions{})
	srv := httptest.NewServer(b.handler)
	t.Cleanup(srv.Close) // registered first, so it runs after the clients closed
	b.url = srv.URL
	return b
}

// token creates a token of org and returns it.
func (b testBundle) token(t testing.TB, org string, readOnly bool) string {
	t.Helper()
	tok, prefix, hash, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.store.CreateToken(t.Context(), modelgate.Token{Prefix: prefix, Org: org, ReadOnly: readOnly}, hash); err != nil {
		t.Fatal(err)
	}
	return tok
}

func prefixOf(token string) string {
	p, _, _ := auth.Parse(token)
	return p
}

// connect returns an initialized client of the bundle's transport that
// sends token; httpClient, if not nil, carries its requests.
func (b testBundle) connect(t *testing.T, token, protocol string, httpClient *http.Client) *client.Client {
	t.Helper()
	headers := map[string]string{"Authorization": "Bearer " + token}
	var tr transport.Interface
	var err error
	switch b.transport {
	case mcpserver.TransportSSE:
		opts := []transport.ClientOption{transport.WithHeaders(headers)}
		if httpClient != nil {
			opts = append(opts, transport.WithHTTPClient(httpClient))
		}
		tr, err = transport.NewSSE(b.url+"/sse", opts...)
	default:
		opts := []transport.StreamableHTTPCOption{transport.WithHTTPHeaders(headers)}
		if httpClient != nil {
			opts = append(opts, transport.WithHTTPBasicClient(httpClient))
		}
		tr, err = transport.NewStreamableHTTP(b.url+"/mcp", opts...)
	}
	if err != nil {
		t.Fatal(err)
	}
	var opts []client.ClientOption
	if protocol != "" {
		opts = append(opts, client.WithProtocolVersion(protocol))
	}
	c := client.NewClient(tr, opts...)
	t.Cleanup(func() { c.Close() })
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	init := mcp.InitializeRequest{}
	init.Params.ClientInfo = mcp.Implementation{Name: "http-test", Version: "1"}
	res, err := c.Initialize(t.Context(), init)
	if err != nil {
		t.Fatalf("initialize: %v", err)
	}
	if protocol != "" && res.ProtocolVersion != protocol {
		t.Fatalf("negotiated %s, want %s", res.ProtocolVersion, protocol)
	}
	return c
}

// call calls a tool and returns its decoded JSON object and whether it is an
// error result; err is a protocol or transport error.
func call(t *testing.T, c *client.Client, tool string, args map[string]any) (map[string]any, bool, error) {
	t.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name = tool
	req.Params.Arguments = args
	res, err := c.CallTool(t.Context(), req)
	if err != nil {
		return nil, false, err
	}
	if raw, _ := json.Marshal(res); strings.Contains(string(raw), canary) {
		t.Fatalf("%s: the secret value came back", tool)
	}
	text, _ := mcp.AsTextContent(res.Content[0])
	var obj map[string]any
	if err := json.Unmarshal([]byte(text.Text), &obj); err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	return obj, res.IsError, nil
}

func mustCall(t *testing.T, c *client.Client, tool string, args map[string]any) map[string]any {
	t.Helper()
	obj, isErr, err := call(t, c, tool, args)
	if err != nil || isErr {
		t.Fatalf("%s(%v): %v %v", tool, args, err, obj)
	}
	return obj
}

// lifecycle is one workspace's life: discovery, a refusal, the org key,
// provisioning, reading it back, listing and deprovisioning.
func lifecycle(t *testing.T, c *client.Client) {
	t.Helper()
	offered := mustCall(t, c, "list_offered_models", map[string]any{"runtime": "claude-code"})
	if len(offered["arms"].([]any)) == 0 {
		t.Fatalf("no arms offered: %v", offered)
	}
	refused, isErr, err := call(t, c, "provision_workspace", map[string]any{"name": "researcher", "model": "claude-sonnet-4-6"})
	if err != nil || !isErr || refused["code"] != modelgate.EMissingCredential {
		t.Fatalf("provision without a key = %v %v", refused, err)
	}
	mustCall(t, c, "set_org_secret", map[string]any{"key": "ANTHROPIC_API_KEY", "value": canary})
	created := mustCall(t, c, "provision_workspace", map[string]any{"name": "researcher", "model": "claude-sonnet-4-6"})
	if created["credential_scope"] != "org" {
		t.Fatalf("provision = %v", created)
	}
	id := created["id"]
	if got := mustCall(t, c, "get_workspace", map[string]any{"id": id}); got["name"] != "researcher" {
		t.Fatalf("get = %v", got)
	}
	if list := mustCall(t, c, "list_workspaces", nil); len(list["workspaces"].([]any)) != 1 {
		t.Fatalf("list = %v", list)
	}
	if gone := mustCall(t, c, "deprovision_workspace", map[string]any{"id": id, "confirm_name": "researcher"}); gone["status"] != modelgate.StatusRemoved {
		t.Fatalf("deprovision = %v", gone)
	}
	if got := mustCall(t, c, "get_workspace", map[string]any{"id": id}); got["status"] != modelgate.StatusRemoved {
		t.Fatalf("get after deprovision = %v", got)
	}
}

// post sends a raw JSON-RPC request to path with the token (if any).
func post(t *testing.T, url, token, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", mcp.ProtocolVersion20251125)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

const ping = `{"jsonrpc":"2.0","id":1,"method":"ping"}`

func TestHTTP_LifecycleOverStreamableHTTP(t *testing.T) {
	t.Parallel()
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{})
			lifecycle(t, b.connect(t, b.token(t, "acme", false), p.version, nil))
		})
	}
}

func TestHTTP_RequestWithoutAValidTokenIs401BeforeAnyMCPHandling(t *testing.T) {
	t.Parallel()
	for _, tr := range []string{mcpserver.TransportHTTP, mcpserver.TransportSSE} {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{transport: tr})
			valid := b.token(t, "acme", false)
			revoked := b.token(t, "acme", false)
			if err := b.store.RevokeToken(t.Context(), prefixOf(revoked)); err != nil {
				t.Fatal(err)
			}
			unknown, _, _, _ := auth.NewToken()
			wrong := prefixOf(valid)
			wrongSecret := "mg_" + wrong + "_" + strings.Repeat("A", len(valid)-len("mg_"+wrong+"_"))
			paths := map[string][]string{mcpserver.TransportHTTP: {"POST /mcp"}, mcpserver.TransportSSE: {"GET /sse", "POST /message?sessionId=x"}}[tr]
			for name, header := range map[string]string{
				"missing":      "",
				"basic":        "Basic dXNlcjpwYXNz",
				"malformed":    "Bearer not-a-token",
				"unknown":      "Bearer " + unknown,
				"wrong secret": "Bearer " + wrongSecret,
				"revoked":      "Bearer " + revoked,
			} {
				for _, p := range paths {
					method, path, _ := strings.Cut(p, " ")
					req, _ := http.NewRequestWithContext(t.Context(), method, b.url+path, strings.NewReader(ping))
					req.Header.Set("Content-Type", "application/json")
					if header != "" {
						req.Header.Set("Authorization", header)
					}
					res, body := do(t, req)
					var obj map[string]string
					json.Unmarshal([]byte(body), &obj)
					if res.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(res.Header.Get("WWW-Authenticate"), "Bearer") || obj["code"] != modelgate.EUnauthorized {
						t.Errorf("%s, %s: %d %q %s; want 401, WWW-Authenticate: Bearer and our error object", name, p, res.StatusCode, res.Header.Get("WWW-Authenticate"), body)
					}
				}
			}
			if res, body := post(t, b.url+"/mcp", valid, ping); tr == mcpserver.TransportHTTP && res.StatusCode != http.StatusOK {
				t.Fatalf("valid token: %d %s", res.StatusCode, body)
			}
		})
	}
}

func TestHTTP_ReadOnlyTokenSeesAndCallsOnlyReadOnlyTools(t *testing.T) {
	t.Parallel()
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{})
			c := b.connect(t, b.token(t, "acme", true), p.version, nil)
			list, err := c.ListTools(t.Context(), mcp.ListToolsRequest{})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tool := range list.Tools {
				names = append(names, tool.Name)
			}
			slices.Sort(names)
			if want := []string{"get_workspace", "list_offered_models", "list_org_secrets", "list_workspaces"}; !slices.Equal(names, want) {
				t.Fatalf("read-only token sees %v, want %v", names, want)
			}
			// The write tools exist: the refusal says what would work
			// instead of "tool not found".
			for _, w := range []struct {
				tool string
				args map[string]any
			}{
				{"provision_workspace", map[string]any{"name": "w", "model": "moonshot/kimi-k2.6"}},
				{"set_org_secret", map[string]any{"key": "OPENAI_API_KEY", "value": canary}},
			} {
				obj, isErr, err := call(t, c, w.tool, w.args)
				if err != nil || !isErr || obj["code"] != modelgate.EForbidden {
					t.Fatalf("read-only token calling %s: %v, isError %v, %v; want a FORBIDDEN result", w.tool, obj, isErr, err)
				}
				if msg, _ := obj["error"].(string); !strings.Contains(msg, "needs a read-write token") || strings.Contains(msg, canary) {
					t.Fatalf("refusal of %s does not say a read-write token is needed (or leaks): %q", w.tool, msg)
				}
			}
			ws, _, err := b.store.ListWorkspaces(t.Context(), "acme", modelgate.WorkspaceFilter{Limit: 10})
			names2, _ := b.store.OrgSecretNames(t.Context(), "acme")
			if err != nil || len(ws) != 0 || len(names2) != 0 {
				t.Fatalf("a read-only token wrote: %d workspaces, secrets %v, %v", len(ws), names2, err)
			}
			mustCall(t, c, "list_offered_models", nil)
		})
	}
}

func TestHTTP_TokenOfAnotherOrgGetsNotFound(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	a := b.connect(t, b.token(t, "org-a", false), mcp.ProtocolVersion20251125, nil)
	other := b.connect(t, b.token(t, "org-b", false), "", nil)
	created := mustCall(t, a, "provision_workspace", map[string]any{"name": "mine", "model": "moonshot/kimi-k2.6"})
	id := created["id"]
	for _, c := range []struct {
		tool string
		args map[string]any
	}{
		{"get_workspace", map[string]any{"id": id}},
		{"deprovision_workspace", map[string]any{"id": id, "confirm_name": "mine"}},
	} {
		obj, isErr, err := call(t, other, c.tool, c.args)
		if err != nil || !isErr || obj["code"] != modelgate.ENotFound {
			t.Errorf("org B %s on org A's workspace = %v %v, want NOT_FOUND", c.tool, obj, err)
		}
	}
	if list := mustCall(t, other, "list_workspaces", nil); len(list["workspaces"].([]any)) != 0 {
		t.Fatalf("org B lists org A's workspaces: %v", list)
	}
	if got := mustCall(t, a, "get_workspace", map[string]any{"id": id}); got["status"] == modelgate.StatusRemoved {
		t.Fatal("org B removed org A's workspace")
	}
}

func TestHTTP_RevokedTokenStopsWorkingAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	tok := b.token(t, "acme", false)
	c := b.connect(t, tok, mcp.ProtocolVersion20251125, nil)
	mustCall(t, c, "list_workspaces", nil)
	if err := b.store.RevokeToken(t.Context(), prefixOf(tok)); err != nil {
		t.Fatal(err)
	}
	if obj, _, err := call(t, c, "list_workspaces", nil); err == nil {
		t.Fatalf("call after revocation = %v, want a transport error", obj)
	}
	if res, _ := post(t, b.url+"/mcp", tok, ping); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("request after revocation: %d, want 401", res.StatusCode)
	}
}

func TestHTTP_BodyOverOneMiBIs413(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	tok := b.token(t, "acme", false)
	// body returns a ping padded to n bytes.
	body := func(n int) string {
		head, tail := `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"pad":"`, `"}}}`
		return head + strings.Repeat("x", n-len(head)-len(tail)) + tail
	}
	send := func(payload string, chunked bool) int {
		var r io.Reader = strings.NewReader(payload)
		if chunked {
			r = io.MultiReader(r) // hides the length: Transfer-Encoding: chunked
		}
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, b.url+"/mcp", r)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Authorization", "Bearer "+tok)
		res, _ := do(t, req)
		return res.StatusCode
	}
	for _, chunked := range []bool{false, true} {
		if got := send(body(1<<20+1), chunked); got != http.StatusRequestEntityTooLarge {
			t.Errorf("chunked=%v: 1 MiB + 1 byte: %d, want 413", chunked, got)
		}
		if got := send(body(1<<20), chunked); got != http.StatusOK {
			t.Errorf("chunked=%v: exactly 1 MiB: %d, want 200", chunked, got)
		}
	}
}

func TestHTTP_HealthNeedsNoTokenAndReadinessFollowsTheDatabase(t *testing.T) {
	t.Parallel()
	var down atomic.Bool
	b := setup(t, setupOpts{ready: func(ctx context.Context) error {
		if down.Load() {
			return errors.New("dial tcp 10.0.0.7:5432: connection refused")
		}
		return nil
	}})
	get := func(path string) (int, string) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, b.url+path, nil)
		res, body := do(t, req)
		return res.StatusCode, body
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz: %d", code)
	}
	if code, _ := get("/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz: %d", code)
	}
	down.Store(true)
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || strings.Contains(body, "10.0.0.7") {
		t.Fatalf("/readyz with the database down: %d %s, want 503 without detail", code, body)
	}
	if code, _ := get("/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz with the database down: %d, want 200 (the process is up)", code)
	}
}

func TestHTTP_LoopbackListenerRefusesForeignHostOrOrigin(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{})
	tok := b.token(t, "acme", false)
	u, _ := url.Parse(b.url)
	for _, c := range []struct {
		host, origin string
		want         int
	}{
		{"evil.example.com", "", http.StatusForbidden},
		{"evil.example.com:" + u.Port(), "http://evil.example.com", http.StatusForbidden},
		{u.Host, "http://evil.example.com", http.StatusForbidden},
		{u.Host, "null", http.StatusForbidden},
		{"localhost:" + u.Port(), "http://localhost:" + u.Port(), http.StatusOK},
		{u.Host, "", http.StatusOK},
	} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, b.url+"/mcp", strings.NewReader(ping))
		req.Host = c.host
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Authorization", "Bearer "+tok)
		if c.origin != "" {
			req.Header.Set("Origin", c.origin)
		}
		res, body := do(t, req)
		if res.StatusCode != c.want {
			t.Errorf("Host %q Origin %q: %d %s, want %d", c.host, c.origin, res.StatusCode, body, c.want)
		}
		if c.want == http.StatusForbidden {
			// A refusal of where the request came from is not a token
			// problem: a client must not be told to fix its token.
			var obj map[string]any
			if json.Unmarshal([]byte(body), &obj) != nil || obj["code"] != modelgate.EForbidden {
				t.Errorf("Host %q Origin %q: body %s, want code FORBIDDEN", c.host, c.origin, body)
			}
		}
	}
}

func TestHTTP_WrongPathIsA404NamingTheServedPaths(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		transport string
		method    string
		path      string
		mcpPath   string // the endpoint the answer must name
		notNamed  string // a path of the other transport the answer must not name
	}{
		{mcpserver.TransportHTTP, http.MethodPost, "/", "/mcp", "/sse"},
		{mcpserver.TransportHTTP, http.MethodGet, "/", "/mcp", "/sse"},
		{mcpserver.TransportHTTP, http.MethodPost, "/mcp/", "/mcp", "/sse"},
		{mcpserver.TransportHTTP, http.MethodGet, "/sse", "/mcp", "/message"},
		{mcpserver.TransportHTTP, http.MethodGet, "/metrics", "/mcp", "/metrics"}, // metrics are off
		{mcpserver.TransportSSE, http.MethodPost, "/mcp", "/sse", "/mcp"},
		{mcpserver.TransportSSE, http.MethodGet, "/sse/", "/sse", "/mcp"},
	} {
		t.Run(c.transport+" "+c.method+" "+c.path, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{transport: c.transport})
			req, _ := http.NewRequestWithContext(t.Context(), c.method, b.url+c.path, strings.NewReader(ping))
			req.Header.Set("Accept", "application/json, text/event-stream")
			res, body := do(t, req)
			if res.StatusCode != http.StatusNotFound || res.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("%d %s %s, want a JSON 404", res.StatusCode, res.Header.Get("Content-Type"), body)
			}
			var obj struct {
				Code, Error string
				Paths       []string
			}
			if err := json.Unmarshal([]byte(body), &obj); err != nil {
				t.Fatal(err)
			}
			joined := strings.Join(obj.Paths, "\n")
			if obj.Code != modelgate.ENotFound || !strings.Contains(obj.Error, "endpoint is "+c.mcpPath) ||
				!strings.Contains(joined, " "+c.mcpPath) || strings.Contains(joined, c.notNamed) {
				t.Fatalf("404 answer %+v: want NOT_FOUND naming %s and not %s", obj, c.mcpPath, c.notNamed)
			}
		})
	}
}

func TestHTTP_BrowserAtRootGetsAPageWithTheMCPURL(t *testing.T) {
	t.Parallel()
	b := newHandler(t, setupOpts{}, mcpserver.HTTPOptions{Version: "v9.8.7"})
	srv := httptest.NewServer(b.handler)
	t.Cleanup(srv.Close)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/", nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	res, body := do(t, req)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("%d %s, want an HTML page", res.StatusCode, res.Header.Get("Content-Type"))
	}
	for _, want := range []string{srv.URL + "/mcp", "v9.8.7", mcpserver.DocsURL, "Authorization: Bearer"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q:\n%s", want, body)
		}
	}
	// Nothing on the page is fetched from elsewhere: no scripts, images or
	// style sheets; the one link is to the docs.
	for _, bad := range []string{"<script", "<img", "<link", "src=", "@import"} {
		if strings.Contains(body, bad) {
			t.Errorf("page holds %q", bad)
		}
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
}

func TestHTTP_AnonymousAccessActsForTheConfiguredOrg(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{anonymous: &modelgate.Caller{Org: "local"}})
	res, body := post(t, b.url+"/mcp", "", `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"provision_workspace","arguments":{"name":"anon","model":"moonshot/kimi-k2.6"}}}`)
	if res.StatusCode != http.StatusOK || strings.Contains(body, `"isError":true`) {
		t.Fatalf("anonymous provision: %d %s", res.StatusCode, body)
	}
	ws, _, err := b.store.ListWorkspaces(t.Context(), "local", modelgate.WorkspaceFilter{Limit: 10})
	if err != nil || len(ws) != 1 {
		t.Fatalf("org local has %d workspaces (%v), want 1", len(ws), err)
	}
	unknown, _, _, _ := auth.NewToken()
	if res, _ := post(t, b.url+"/mcp", unknown, ping); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a bad token with anonymous access: %d, want 401", res.StatusCode)
	}
}

func TestHTTP_RateLimitAnswers429AndCountsEachRequestOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{limiter: ratelimit.New(0.001, 3)})
	tok, other := b.token(t, "acme", false), b.token(t, "globex", false)
	call := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_workspaces","arguments":{}}}`
	for i := range 3 { // the tool middleware must not count these a second time
		if res, body := post(t, b.url+"/mcp", tok, call); res.StatusCode != http.StatusOK || strings.Contains(body, "RATE_LIMITED") {
			t.Fatalf("call %d within the burst: %d %s", i, res.StatusCode, body)
		}
	}
	res, body := post(t, b.url+"/mcp", tok, call)
	var obj map[string]any
	json.Unmarshal([]byte(body), &obj)
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" || obj["code"] != modelgate.ERateLimited {
		t.Fatalf("over the burst: %d %q %s, want 429 with Retry-After", res.StatusCode, res.Header.Get("Retry-After"), body)
	}
	if res, _ := post(t, b.url+"/mcp", other, call); res.StatusCode != http.StatusOK {
		t.Fatalf("another org: %d, want 200", res.StatusCode)
	}
}

func TestSSE_ClientListsToolsAndProvisions(t *testing.T) {
	t.Parallel()
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, setupOpts{transport: mcpserver.TransportSSE})
			c := b.connect(t, b.token(t, "acme", false), p.version, nil)
			list, err := c.ListTools(t.Context(), mcp.ListToolsRequest{})
			if err != nil || len(list.Tools) != 8 {
				t.Fatalf("tools/list over SSE: %v, %v", list, err)
			}
			lifecycle(t, c)
		})
	}
}

func TestSSE_ReadOnlyTokenCannotProvision(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{transport: mcpserver.TransportSSE})
	c := b.connect(t, b.token(t, "acme", true), mcp.ProtocolVersion20251125, nil)
	if obj, isErr, err := call(t, c, "provision_workspace", map[string]any{"name": "w", "model": "moonshot/kimi-k2.6"}); err != nil || !isErr || obj["code"] != modelgate.EForbidden {
		t.Fatalf("read-only token calling provision_workspace over SSE: %v, isError %v, %v; want FORBIDDEN", obj, isErr, err)
	}
}

// openSSE opens GET /sse with token and returns the message endpoint the
// server announced.
func openSSE(t *testing.T, b testBundle, token string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.url+"/sse", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			return b.url + strings.TrimSpace(data)
		}
	}
	t.Fatalf("no endpoint event: %v", sc.Err())
	return ""
}

func TestSSE_SessionAcceptsMessagesOnlyFromTheTokenThatOpenedIt(t *testing.T) {
	t.Parallel()
	b := setup(t, setupOpts{transport: mcpserver.TransportSSE})
	owner, sameOrg, otherOrg := b.token(t, "acme", false), b.token(t, "acme", false), b.token(t, "globex", false)
	endpoint := openSSE(t, b, owner)
	for name, tok := range map[string]string{"another token of the org": sameOrg, "another org": otherOrg} {
		if res, body := post(t, endpoint, tok, ping); res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d %s, want 404", name, res.StatusCode, body)
		}
	}
	if res, body := post(t, endpoint, owner, ping); res.StatusCode != http.StatusAccepted {
		t.Fatalf("owner: %d %s, want 202", res.StatusCode, body)
	}
}

// alternate sends each request to the next of several servers.
type alternate struct {
	hosts []string
	n     atomic.Int64
	mu    sync.Mutex
	seen  map[string]int
}

func (a *alternate) RoundTrip(req *http.Request) (*http.Response, error) {
	host := a.hosts[int(a.n.Add(1))%len(a.hosts)]
	a.mu.Lock()
	a.seen[host]++
	a.mu.Unlock()
	r := req.Clone(req.Context())
	r.URL.Host, r.Host = host, host
	return http.DefaultTransport.RoundTrip(r)
}

func TestHTTP_TwoReplicasOnOnePostgresServeOneClientAlternately(t *testing.T) {
	t.Parallel()
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			schema := pgtest.Schema(t)
			b1 := setup(t, setupOpts{store: openPostgres(t, schema)})
			b2 := setup(t, setupOpts{store: openPostgres(t, schema)})
			tok := b1.token(t, "acme", false)
			u1, _ := url.Parse(b1.url)
			u2, _ := url.Parse(b2.url)
			rt := &alternate{hosts: []string{u1.Host, u2.Host}, seen: map[string]int{}}
			c := b1.connect(t, tok, p.version, &http.Client{Transport: rt})
			lifecycle(t, c)
			rt.mu.Lock()
			defer rt.mu.Unlock()
			if rt.seen[u1.Host] < 4 || rt.seen[u2.Host] < 4 {
				t.Fatalf("requests per replica: %v, want both to serve several", rt.seen)
			}
		})
	}
}

// holdCalls makes calls of tool block until release is closed; started
// receives one value per call that began.
func holdCalls(s *server.MCPServer, tool string) (started chan struct{}, release chan struct{}) {
	started, release = make(chan struct{}, 8), make(chan struct{})
	s.Use(func(next server.ToolHandlerFunc) server.ToolHandlerFunc {
		return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if req.Params.Name == tool {
				started <- struct{}{}
				<-release
			}
			return next(ctx, req)
		}
	})
	return started, release
}

// serve runs the bundle's handler with Serve on a loopback listener until
// the returned cancel is called; served is closed when Serve returned, and
// *result is then its error.
func serve(t *testing.T, b *testBundle) (cancel context.CancelFunc, served chan struct{}, result *error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.url = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served, result = make(chan struct{}), new(error)
	go func() {
		*result = mcpserver.Serve(ctx, ln, b.handler)
		close(served)
	}()
	t.Cleanup(func() {
		cancel()
		<-served
	})
	return cancel, served, result
}

func TestServe_CallInFlightAtShutdownCompletes(t *testing.T) {
	t.Parallel()
	for _, tr := range []string{mcpserver.TransportHTTP, mcpserver.TransportSSE} {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			b := newHandler(t, setupOpts{transport: tr}, mcpserver.HTTPOptions{ShutdownTimeout: 30 * time.Second})
			started, release := holdCalls(b.mcp, "list_offered_models")
			stop, served, result := serve(t, &b)
			c := b.connect(t, b.token(t, "acme", false), mcp.ProtocolVersion20251125, nil)
			type outcome struct {
				obj map[string]any
				err error
			}
			done := make(chan outcome, 1)
			go func() {
				req := mcp.CallToolRequest{}
				req.Params.Name = "list_offered_models"
				res, err := c.CallTool(context.Background(), req)
				if err != nil {
					done <- outcome{err: err}
					return
				}
				var obj map[string]any
				err = json.Unmarshal([]byte(res.Content[0].(mcp.TextContent).Text), &obj)
				done <- outcome{obj, err}
			}()
			<-started
			stop() // what SIGTERM does in cmd/mcp-server
			select {
			case <-served:
				t.Fatalf("Serve returned %v while a call was in flight", *result)
			default:
			}
			close(release)
			r := <-done
			if r.err != nil || r.obj["runtime"] == nil {
				t.Fatalf("in-flight call: %v %v, want its result", r.obj, r.err)
			}
			if <-served; *result != nil {
				t.Fatalf("Serve after a clean shutdown: %v", *result)
			}
		})
	}
}

func TestServe_ShutdownIsBoundedByItsTimeout(t *testing.T) {
	t.Parallel()
	b := newHandler(t, setupOpts{}, mcpserver.HTTPOptions{ShutdownTimeout: 50 * time.Millisecond})
	started, release := holdCalls(b.mcp, "list_workspaces")
	defer close(release)
	stop, served, result := serve(t, &b)
	c := b.connect(t, b.token(t, "acme", false), mcp.ProtocolVersion20251125, nil)
	go func() {
		req := mcp.CallToolRequest{}
		req.Params.Name = "list_workspaces"
		c.CallTool(context.Background(), req) // cut off: its result does not matter
	}()
	<-started
	stop()
	if <-served; *result == nil || !strings.Contains((*result).Error(), "cut off") {
		t.Fatalf("Serve with a stuck call = %v, want a cut-off error", *result)
	}
}

func TestNewHTTPHandler_RefusesUnknownTransportAndMissingAuth(t *testing.T) {
	t.Parallel()
	s := server.NewMCPServer("x", "1")
	pass := func(h http.Handler) http.Handler { return h }
	for _, o := range []mcpserver.HTTPOptions{{Transport: "grpc", Auth: pass}, {Transport: mcpserver.TransportHTTP}} {
		if _, err := mcpserver.NewHTTPHandler(s, o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}

func TestIsLoopbackAddr(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "localhost:80": true, "[::1]:9000": true, "127.1.2.3:1": true,
		":8080": false, "0.0.0.0:8080": false, "[::]:8080": false, "10.0.0.1:8080": false, "example.com:80": false, "garbage": false,
	} {
		if got := mcpserver.IsLoopbackAddr(addr); got != want {
			t.Errorf("IsLoopbackAddr(%q) = %v, want %v", addr, got, want)
		}
	}
}
