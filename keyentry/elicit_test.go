package keyentry_test

import (
	"context"
	"io"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/rs/zerolog"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/gate"
	"github.com/modelgate/modelgate/internal/browsertest"
	"github.com/modelgate/modelgate/internal/testlog"
	"github.com/modelgate/modelgate/keyentry"
	"github.com/modelgate/modelgate/mcpserver"
	"github.com/modelgate/modelgate/postgres"
	"github.com/modelgate/modelgate/postgres/pgtest"
	"github.com/modelgate/modelgate/provision"
	"github.com/modelgate/modelgate/registry"
	"github.com/modelgate/modelgate/secrets"
	"github.com/modelgate/modelgate/tools"
)

// stdioServer serves MCP over pipes for org "acme", as `serve` does on
// stdio: key entry without a base URL, so the page is on a loopback
// listener opened for the first link. It returns the replica and a client
// built with opts.
func stdioServer(t *testing.T, store modelgate.Store, opts ...client.ClientOption) (*replica, *client.Client) {
	t.Helper()
	logs := &testlog.Buffer{}
	log := zerolog.New(logs)
	keys, err := secrets.NewKeyring(testKey)
	if err != nil {
		t.Fatal(err)
	}
	svc := provision.New(store, gate.New(registry.Default(), log), keys, log)
	ke := keyentry.New(keyentry.Options{Store: store, Service: svc, Log: log, PollInterval: 50 * time.Millisecond})
	ke.Attach(svc)
	s, err := mcpserver.New(mcpserver.Options{Deps: tools.Deps{Service: svc, Log: log, KeyEntry: ke}, Version: "test", ValidateOutput: true})
	if err != nil {
		t.Fatal(err)
	}
	serverIn, clientOut := io.Pipe()
	clientIn, serverOut := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		defer close(served)
		mcpserver.ServeStdio(ctx, s, "acme", serverIn, serverOut, log, 10*time.Second)
	}()
	opts = append(opts, client.WithProtocolVersion(mcp.ProtocolVersion20251125))
	c := client.NewClient(transport.NewIO(clientIn, clientOut, io.NopCloser(strings.NewReader(""))), opts...)
	t.Cleanup(func() {
		c.Close()
		cancel()
		serverIn.Close()
		clientIn.Close()
		<-served
		ke.Close()
	})
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	init := mcp.InitializeRequest{}
	init.Params.ClientInfo = mcp.Implementation{Name: "keyentry-stdio-test", Version: "1"}
	if _, err := c.Initialize(t.Context(), init); err != nil {
		t.Fatal(err)
	}
	return &replica{store: store, svc: svc, keys: keys, ke: ke, logs: logs, clock: &clock{}}, c
}

// TestStdio_LinkIsServedOnALoopbackListenerAndTheRetryIsAllowed, on both
// stores: over stdio the page lives on 127.0.0.1 at a port chosen when the
// first link was made.
func TestBrowser_StdioLinkIsServedOnALoopbackListenerAndTheRetryIsAllowed(t *testing.T) {
	t.Parallel()
	for _, sk := range stores {
		t.Run(sk.name, func(t *testing.T) {
			t.Parallel()
			r, c := stdioServer(t, sk.open(t))
			link, _ := refusal(t, c, byok("researcher", false))
			u, err := url.Parse(link)
			if err != nil || u.Scheme != "http" || u.Hostname() != "127.0.0.1" || u.Port() == "" || u.Port() == "8080" {
				t.Fatalf("stdio link %q, want http://127.0.0.1:<random port>/keys/…", link)
			}
			// The same listener serves every later link.
			link2, _ := refusal(t, c, byok("researcher", true))
			if u2, _ := url.Parse(link2); u2.Host != u.Host {
				t.Errorf("second link on %s, first on %s: want one listener", u2.Host, u.Host)
			}
			bctx := browsertest.New(t)
			status, h := browserSubmit(t, bctx, link, "ANTHROPIC_API_KEY", canary)
			browsertest.Screenshot(t, bctx, "success")
			if status != 200 || !strings.Contains(h, "it can retry now") {
				t.Fatalf("submit in the browser: HTTP %d", status)
			}
			obj, isErr := call(t, c, "provision_workspace", byok("researcher", false))
			if isErr || obj["credential_scope"] != modelgate.ScopeOrg {
				t.Fatalf("retry = %v, want allowed with the org key", obj)
			}
			neverHolds(t, map[string]string{"the logs": r.logs.String()})
		})
	}
}

// urlElicitor is an MCP client's elicitation handler that accepts.
type urlElicitor struct{ got chan mcp.ElicitationRequest }

func (h urlElicitor) Elicit(_ context.Context, req mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	h.got <- req
	return &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{Action: mcp.ElicitationResponseActionAccept}}, nil
}

// elicitingClient returns the options of a client that declared URL-mode
// elicitation, the channel of the elicitations it gets and the channel of
// the ids of the completion notifications.
func elicitingClient(urlMode bool) ([]client.ClientOption, chan mcp.ElicitationRequest, chan string, func(*client.Client)) {
	got := make(chan mcp.ElicitationRequest, 4)
	done := make(chan string, 4)
	caps := mcp.ClientCapabilities{Elicitation: &mcp.ElicitationCapability{Form: &struct{}{}}}
	if urlMode {
		caps.Elicitation.URL = &struct{}{}
	}
	opts := []client.ClientOption{client.WithElicitationHandler(urlElicitor{got}), client.WithClientCapabilities(caps)}
	listen := func(c *client.Client) {
		c.OnNotification(func(n mcp.JSONRPCNotification) {
			if n.Method == string(mcp.MethodNotificationElicitationComplete) {
				id, _ := n.Params.AdditionalFields["elicitationId"].(string)
				done <- id
			}
		})
	}
	return opts, got, done, listen
}

func TestElicitation_URLModeClientGetsTheLinkAndTheCompletion(t *testing.T) {
	t.Parallel()
	opts, got, done, listen := elicitingClient(true)
	r, c := stdioServer(t, openSQLite(t), opts...)
	listen(c)
	link, _ := refusal(t, c, byok("researcher", false))
	id := keyentry.IDFromURL(link)
	var req mcp.ElicitationRequest
	select {
	case req = <-got:
	case <-time.After(waitLimit):
		t.Fatal("no elicitation")
	}
	if req.Params.Mode != mcp.ElicitationModeURL || req.Params.URL != link || req.Params.ElicitationID != id || req.Params.Message == "" {
		t.Fatalf("elicitation = %+v, want mode url with the refusal's link and the link id", req.Params)
	}
	_, _, tok := page(t, link)
	if status, _ := submit(t, link, tok, "ANTHROPIC_API_KEY", canary, nil); status != 200 {
		t.Fatalf("submit: HTTP %d", status)
	}
	select {
	case gotID := <-done:
		if gotID != id {
			t.Fatalf("completion for %q, want %q", gotID, id)
		}
	case <-time.After(waitLimit):
		t.Fatal("no notifications/elicitation/complete after the key was stored")
	}
	neverHolds(t, map[string]string{"the logs": r.logs.String()})
}

func TestElicitation_ClientWithoutURLModeGetsTheLinkInTheRefusalOnly(t *testing.T) {
	t.Parallel()
	opts, got, _, _ := elicitingClient(false) // form mode only
	r, c := stdioServer(t, openSQLite(t), opts...)
	refusal(t, c, byok("researcher", false))
	// Elicit decides before the call returns, and logs when it offers.
	if strings.Contains(r.logs.String(), "offered as a URL elicitation") {
		t.Fatal("a client without URL mode was offered a URL elicitation")
	}
	select {
	case req := <-got:
		t.Fatalf("a client without URL mode got %+v", req.Params)
	default:
	}
}

// TestTwoReplicas_LinkMadeOnOneIsUsedOnTheOther: two servers on one
// PostgreSQL. The agent's server (stdio, with a URL-mode client) makes the
// link; the page is submitted to the other replica; the agent's retry is
// allowed, and the completion notification comes from the first, which
// found the spent link in the database.
func TestTwoReplicas_LinkMadeOnOneIsUsedOnTheOther(t *testing.T) {
	t.Parallel()
	schema := pgtest.Schema(t)
	open := func() modelgate.Store { return pgtest.Open(t, postgres.Options{Schema: schema, MaxConns: 4}) }
	opts, got, done, listen := elicitingClient(true)
	_, c := stdioServer(t, open(), opts...)
	listen(c)
	other := newReplica(t, open(), mcpserver.TransportHTTP)

	link, _ := refusal(t, c, byok("researcher", false))
	<-got
	u, _ := url.Parse(link)
	onOther := other.url + u.Path
	status, _, tok := page(t, onOther)
	if status != 200 {
		t.Fatalf("the other replica does not serve the link: HTTP %d", status)
	}
	if status, _ := submit(t, onOther, tok, "ANTHROPIC_API_KEY", canary, nil); status != 200 {
		t.Fatalf("submit on the other replica: HTTP %d", status)
	}
	select {
	case id := <-done:
		if id != keyentry.IDFromURL(link) {
			t.Fatalf("completion for %q", id)
		}
	case <-time.After(waitLimit):
		t.Fatal("no completion notification from the replica that made the link")
	}
	if obj, isErr := call(t, c, "provision_workspace", byok("researcher", false)); isErr || obj["credential_scope"] != modelgate.ScopeOrg {
		t.Fatalf("retry = %v", obj)
	}
	// The first submit spent it for both replicas.
	if status, _ := submit(t, link, tok, "ANTHROPIC_API_KEY", "sk-again", nil); status != 410 {
		t.Fatalf("resubmit on the first replica: HTTP %d, want 410", status)
	}
}

// waitLimit bounds a wait for something that must happen; it only turns a
// hang into a failure.
const waitLimit = 30 * time.Second

// TestSSE_LinkIsServedOnTheSameListener: over the legacy SSE transport the
// refusal's link is on the server's own listener, like streamable HTTP's.
func TestSSE_LinkIsServedOnTheSameListener(t *testing.T) {
	t.Parallel()
	r := newReplica(t, openSQLite(t), mcpserver.TransportSSE)
	c := r.connect(t, mcpserver.TransportSSE, r.token(t, "acme"), &recorder{})
	link, _ := refusal(t, c, byok("researcher", false))
	if !strings.HasPrefix(link, r.url+keyentry.PathPrefix) {
		t.Fatalf("link %q is not under %s", link, r.url+keyentry.PathPrefix)
	}
	_, _, tok := page(t, link)
	if status, _ := submit(t, link, tok, "ANTHROPIC_AUTH_TOKEN", canary, nil); status != 200 {
		t.Fatalf("submit: HTTP %d", status)
	}
	if obj, isErr := call(t, c, "provision_workspace", byok("researcher", false)); isErr || obj["credential_scope"] != modelgate.ScopeOrg {
		t.Fatalf("retry = %v", obj)
	}
}
