package keyentry_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/rs/zerolog"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/auth"
	"github.com/modelgate/modelgate/gate"
	"github.com/modelgate/modelgate/internal/testlog"
	"github.com/modelgate/modelgate/keyentry"
	"github.com/modelgate/modelgate/mcpserver"
	"github.com/modelgate/modelgate/postgres"
	"github.com/modelgate/modelgate/postgres/pgtest"
	"github.com/modelgate/modelgate/provision"
	"github.com/modelgate/modelgate/registry"
	"github.com/modelgate/modelgate/secrets"
	"github.com/modelgate/modelgate/sqlite"
	"github.com/modelgate/modelgate/tools"
)

// canary is the key a person types; it must never appear anywhere but,
// sealed, in the store.
const canary = "sk-ant-keyentry-canary-5e1d0c"

// byok is a provision call refused for a missing key: claude-sonnet-4-6 on
// claude-code needs an Anthropic credential.
func byok(name string, dryRun bool) map[string]any {
	return map[string]any{"name": name, "runtime": "claude-code", "model": "claude-sonnet-4-6", "dry_run": dryRun}
}

// clock is a settable time source for the key entry service.
type clock struct{ off atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *clock) advance(d time.Duration) { c.off.Add(int64(d)) }

// replica is one server: store, service, key entry, MCP over HTTP (or
// SSE) with the page on the same listener.
type replica struct {
	store modelgate.Store
	svc   *provision.Service
	keys  *secrets.Keyring
	ke    *keyentry.Service
	url   string
	logs  *testlog.Buffer
	clock *clock
}

type storeKind struct {
	name string
	open func(t *testing.T) modelgate.Store
}

func openSQLite(t *testing.T) modelgate.Store {
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "modelgate.db"), sqlite.Options{Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func openPostgres(t *testing.T) modelgate.Store { return pgtest.Open(t, postgres.Options{MaxConns: 4}) }

var stores = []storeKind{{"sqlite", openSQLite}, {"postgres", openPostgres}}

var testKey = secrets.GenerateKey()

// newReplica serves MCP (transport) and the key entry page over store.
func newReplica(t *testing.T, store modelgate.Store, transportName string) *replica {
	t.Helper()
	logs := &testlog.Buffer{}
	log := zerolog.New(logs)
	keys, err := secrets.NewKeyring(testKey)
	if err != nil {
		t.Fatal(err)
	}
	svc := provision.New(store, gate.New(registry.Default(), log), keys, log)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	clk := &clock{}
	ke := keyentry.New(keyentry.Options{Store: store, Service: svc, BaseURL: base, Log: log, Now: clk.now, PollInterval: 50 * time.Millisecond})
	ke.Attach(svc)
	s, err := mcpserver.New(mcpserver.Options{Deps: tools.Deps{Service: svc, Log: log, KeyEntry: ke}, Version: "test", ValidateOutput: true})
	if err != nil {
		t.Fatal(err)
	}
	h, err := mcpserver.NewHTTPHandler(s, mcpserver.HTTPOptions{
		Transport: transportName, Auth: auth.New(store, auth.Options{Log: log}).Middleware,
		KeyEntry: ke.Handler(), Log: log, SSEKeepAlive: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: h}}
	srv.Start()
	t.Cleanup(func() { srv.Close(); ke.Close() })
	return &replica{store: store, svc: svc, keys: keys, ke: ke, url: base, logs: logs, clock: clk}
}

// token creates an API token of org.
func (r *replica) token(t *testing.T, org string) string {
	t.Helper()
	tok, prefix, hash, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.store.CreateToken(t.Context(), modelgate.Token{Prefix: prefix, Org: org}, hash); err != nil {
		t.Fatal(err)
	}
	return tok
}

// recorder keeps every byte of the MCP traffic: the transcript.
type recorder struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (rec *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(b))
		rec.write(b)
	}
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	res.Body = teeBody{res.Body, rec}
	return res, nil
}

func (rec *recorder) write(b []byte) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.buf.Write(b)
}

func (rec *recorder) String() string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.buf.String()
}

type teeBody struct {
	io.ReadCloser
	rec *recorder
}

func (b teeBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.rec.write(p[:n])
	return n, err
}

// connect returns an initialized MCP client of r (streamable HTTP or SSE)
// that sends token and records its traffic in rec; opts add client options
// (an elicitation handler, capabilities).
func (r *replica) connect(t *testing.T, transportName, token string, rec *recorder, opts ...client.ClientOption) *client.Client {
	t.Helper()
	headers := map[string]string{"Authorization": "Bearer " + token}
	hc := &http.Client{Transport: rec}
	var tr transport.Interface
	var err error
	if transportName == mcpserver.TransportSSE {
		tr, err = transport.NewSSE(r.url+"/sse", transport.WithHeaders(headers), transport.WithHTTPClient(hc))
	} else {
		tr, err = transport.NewStreamableHTTP(r.url+"/mcp", transport.WithHTTPHeaders(headers), transport.WithHTTPBasicClient(hc))
	}
	if err != nil {
		t.Fatal(err)
	}
	opts = append(opts, client.WithProtocolVersion(mcp.ProtocolVersion20251125))
	c := client.NewClient(tr, opts...)
	t.Cleanup(func() { c.Close() })
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	init := mcp.InitializeRequest{}
	init.Params.ClientInfo = mcp.Implementation{Name: "keyentry-test", Version: "1"}
	if _, err := c.Initialize(t.Context(), init); err != nil {
		t.Fatalf("initialize: %v", err)
	}
	return c
}

// call calls a tool and returns its JSON object and whether it is an error.
func call(t *testing.T, c *client.Client, tool string, args map[string]any) (map[string]any, bool) {
	t.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name = tool
	req.Params.Arguments = args
	res, err := c.CallTool(t.Context(), req)
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	text, _ := mcp.AsTextContent(res.Content[0])
	var obj map[string]any
	if err := json.Unmarshal([]byte(text.Text), &obj); err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	return obj, res.IsError
}

// refusal calls provision_workspace with args, wants MISSING_BYOK_CREDENTIAL
// with a link, and returns the link.
func refusal(t *testing.T, c *client.Client, args map[string]any) (link string, obj map[string]any) {
	t.Helper()
	obj, isErr := call(t, c, "provision_workspace", args)
	if !isErr || obj["code"] != modelgate.EMissingCredential {
		t.Fatalf("provision_workspace = %v, want MISSING_BYOK_CREDENTIAL", obj)
	}
	link, _ = obj["add_key_url"].(string)
	exp, _ := obj["add_key_expires_at"].(string)
	if link == "" || exp == "" {
		t.Fatalf("refusal without add_key_url/add_key_expires_at: %v", obj)
	}
	at, err := time.Parse(time.RFC3339, exp)
	if err != nil || at.Before(time.Now().Add(keyentry.DefaultTTL-time.Minute)) || at.After(time.Now().Add(keyentry.DefaultTTL+time.Minute)) {
		t.Fatalf("add_key_expires_at = %q, want about %s from now", exp, keyentry.DefaultTTL)
	}
	return link, obj
}

var formTokenRE = regexp.MustCompile(`name="form_token" value="([^"]+)"`)

// page GETs a link and returns the status, the HTML and the form token.
func page(t *testing.T, link string) (int, string, string) {
	t.Helper()
	res, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	m := formTokenRE.FindStringSubmatch(string(b))
	tok := ""
	if m != nil {
		tok = m[1]
	}
	return res.StatusCode, string(b), tok
}

// submit POSTs the form of a link as a same-origin browser would.
func submit(t *testing.T, link, formToken, name, value string, header http.Header) (int, string) {
	t.Helper()
	form := url.Values{"form_token": {formToken}, "name": {name}, "value": {value}}
	req, err := http.NewRequest(http.MethodPost, link, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	u, _ := url.Parse(link)
	req.Header.Set("Origin", u.Scheme+"://"+u.Host)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// orgSecret returns the org's stored value of name ("" when none).
func orgSecret(t *testing.T, r *replica, org, name string) string {
	t.Helper()
	ss, err := r.store.OrgSecrets(t.Context(), org)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ss {
		if s.Name == name {
			v, err := r.keys.Open(secrets.ScopeOrg, org, name, s.Sealed)
			if err != nil {
				t.Fatal(err)
			}
			return string(v)
		}
	}
	return ""
}

// audit returns the org's audit trail.
func audit(t *testing.T, s modelgate.Store, org string) []modelgate.AuditEntry {
	t.Helper()
	es, err := s.ListAudit(t.Context(), org, time.Time{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// events returns the audit events of key links, in order.
func events(es []modelgate.AuditEntry) []string {
	var out []string
	for _, e := range es {
		if e.Event != "" {
			out = append(out, e.Event+" "+e.Code)
		}
	}
	return out
}

// neverHolds fails t if any of the texts holds the canary.
func neverHolds(t *testing.T, texts map[string]string) {
	t.Helper()
	for what, s := range texts {
		if strings.Contains(s, canary) {
			t.Errorf("the key's value appears in %s", what)
		}
	}
}
