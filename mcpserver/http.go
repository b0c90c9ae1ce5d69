package mcpserver

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/metrics"
	"github.com/modelgate/modelgate/ratelimit"
	"github.com/rs/zerolog"
)

// The network transports. Each serves its own endpoints on one listener,
// beside GET /healthz and GET /readyz:
//
//   - TransportHTTP: streamable HTTP at /mcp, stateless, so any replica
//     behind a load balancer can answer any request: no session is kept
//     between requests, each request is authenticated on its own, and the
//     standalone GET stream is refused with 405 (a stateless server has
//     nothing to push on it; clients then poll, as the spec allows).
//   - TransportSSE: the legacy HTTP+SSE transport, GET /sse for the event
//     stream and POST /message?sessionId=… for requests. It is stateful by
//     nature (a request's answer goes out on the stream of the replica that
//     holds the session), so a load balancer must pin a client to one
//     replica.
const (
	TransportHTTP = "http"
	TransportSSE  = "sse"
)

// Defaults of HTTPOptions.
const (
	DefaultMaxBodyBytes    = 1 << 20
	DefaultShutdownTimeout = 15 * time.Second
	DefaultSSEKeepAlive    = 25 * time.Second
)

const (
	// bodyReadTimeout bounds reading one request body, so a client that
	// trickles its body cannot hold a connection and a goroutine forever.
	bodyReadTimeout = 30 * time.Second
	// readyTimeout bounds the database ping of /readyz.
	readyTimeout = 2 * time.Second
	// sseFlushGrace is how long shutdown lets SSE streams write the answers
	// of the calls that just finished before it closes the streams.
	sseFlushGrace = 100 * time.Millisecond
)

// HTTPOptions configure NewHTTPHandler. The zero value of each field means
// the default, except Auth, which is required.
type HTTPOptions struct {
	// Transport is TransportHTTP or TransportSSE.
	Transport string
	// Auth wraps the MCP endpoints. It must refuse a request without a
	// valid token before any MCP handling and put the request's caller in
	// its context (modelgate.WithCaller); auth.Authenticator.Middleware
	// does both. The caller reaches every tool handler: mcp-go derives the
	// context of a call from the HTTP request's context on both transports.
	Auth func(http.Handler) http.Handler
	// Limiter, if not nil, is checked once per MCP request after
	// authentication (the caller's org and token buckets, see Keys); a
	// request over the limit gets 429 with Retry-After before any MCP
	// handling, and a request under it is not counted again by the tool
	// middleware of New. It should be the Limiter given to New.
	Limiter *ratelimit.Limiter
	// MaxBodyBytes is the largest request body accepted; a larger one gets
	// 413. 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Ready reports whether the server can serve (database reachable,
	// catalog loaded) for GET /readyz; nil means always ready.
	Ready func(ctx context.Context) error
	// ShutdownTimeout bounds how long Serve lets in-flight calls finish once
	// its context ends; 0 means DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// SSEKeepAlive is the interval of the pings an SSE stream sends so that
	// proxies do not close it; 0 means DefaultSSEKeepAlive, negative none.
	SSEKeepAlive time.Duration
	// Metrics, if not nil, is served at GET /metrics (without a token, like
	// the health endpoints) and counts the requests refused for their rate.
	// nil: /metrics answers 404 like any path this server does not serve.
	Metrics *metrics.Metrics
	// TLS, if not nil, makes Serve speak HTTPS on its listener (see
	// CertReloader.TLSConfig).
	TLS *tls.Config
	// Version is shown on the page a browser gets at GET /.
	Version string
	// KeyEntry, if not nil, serves the key entry page (keyentry.Handler) at
	// /keys/ on the same listener, without a bearer token: the link's own
	// secret is the credential.
	KeyEntry http.Handler
	// SSEMaxPending is how many calls an SSE session may have whose answers
	// are not yet written to its stream; a call beyond it is refused with
	// 429. 0 means DefaultSSEMaxPending.
	SSEMaxPending int
	// SSEWriteTimeout bounds each write to an SSE stream; a client that does
	// not read for that long is disconnected and its session closed. 0
	// means DefaultSSEWriteTimeout.
	SSEWriteTimeout time.Duration
	// Log receives transport events. Tokens and secret values never reach it.
	Log zerolog.Logger
}

// DocsURL is the documentation the page at GET / and the 404 answers link to.
const DocsURL = "https://github.com/modelgate/modelgate#readme"

// HTTPHandler serves MCP over one network transport, with the health
// endpoints, DNS-rebinding protection, the body limit and authentication
// in front of it. Use Serve to run it with graceful shutdown.
type HTTPHandler struct {
	o        HTTPOptions
	handler  http.Handler
	sse      *server.SSEServer
	calls    callCounter
	draining atomic.Bool
	// sessionKey tags SSE session ids with their owner (see ownerTag).
	sessionKey []byte
	// paths are the paths this handler serves, for the 404 answer and the
	// page at GET /.
	paths []string
	// streams are the open SSE streams, for their bounds (ssebound.go).
	streams streams
}

// NewHTTPHandler returns the handler serving s over o.Transport. It adds a
// tool middleware to s that counts in-flight calls for shutdown. It returns
// an error for an unknown transport or a missing Auth.
func NewHTTPHandler(s *server.MCPServer, o HTTPOptions) (*HTTPHandler, error) {
	if o.Auth == nil {
		return nil, errors.New("mcpserver: HTTPOptions.Auth is required")
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	if o.SSEKeepAlive == 0 {
		o.SSEKeepAlive = DefaultSSEKeepAlive
	}
	if o.SSEMaxPending <= 0 {
		o.SSEMaxPending = DefaultSSEMaxPending
	}
	if o.SSEWriteTimeout <= 0 {
		o.SSEWriteTimeout = DefaultSSEWriteTimeout
	}
	h := &HTTPHandler{o: o, sessionKey: make([]byte, 32)}
	if _, err := rand.Read(h.sessionKey); err != nil {
		return nil, err
	}
	s.Use(h.calls.middleware)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", h.healthz)
	mux.HandleFunc("GET /readyz", h.readyz)
	if o.KeyEntry != nil {
		mux.Handle("/keys/", o.KeyEntry)
	}
	mux.HandleFunc("/", h.notFound)
	protect := func(next http.Handler) http.Handler { return h.limitBody(o.Auth(h.limitRate(h.readBody(next)))) }
	slogger := slog.New(slog.NewTextHandler(zerologWriter{o.Log}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	switch o.Transport {
	case TransportHTTP:
		mux.Handle("/mcp", protect(server.NewStreamableHTTPServer(s,
			server.WithStateLess(true),
			server.WithDisableStreaming(true),
			server.WithStreamableHTTPLogger(slogger),
		)))
		h.paths = []string{"POST /mcp (MCP, streamable HTTP)"}
	case TransportSSE:
		opts := []server.SSEOption{
			server.WithSSEEndpoint("/sse"),
			server.WithMessageEndpoint("/message"),
			server.WithSessionIDGenerator(func(ctx context.Context, _ *http.Request) (string, error) {
				caller, _ := modelgate.CallerFrom(ctx)
				id := uuid.NewString() + "." + h.ownerTag(caller)
				h.registerStream(ctx, id)
				return id, nil
			}),
		}
		if o.SSEKeepAlive > 0 {
			opts = append(opts, server.WithKeepAliveInterval(o.SSEKeepAlive))
		}
		h.sse = server.NewSSEServer(s, opts...)
		mux.Handle("/sse", protect(h.guardStream(h.sse.SSEHandler())))
		mux.Handle("/message", protect(h.ownSession(h.boundSession(h.sse.MessageHandler()))))
		h.paths = []string{"GET /sse (MCP event stream, HTTP+SSE)", "POST /message?sessionId=… (MCP requests, HTTP+SSE)"}
	default:
		return nil, fmt.Errorf("mcpserver: unknown HTTP transport %q (%s or %s)", o.Transport, TransportHTTP, TransportSSE)
	}
	h.paths = append(h.paths, "GET /healthz", "GET /readyz")
	if o.Metrics != nil {
		// Every method reaches the handler, which answers 405 with Allow
		// to all but GET and HEAD (a method pattern would send them to the
		// catch-all's 404).
		mux.Handle("/metrics", o.Metrics.Handler())
		h.paths = append(h.paths, "GET /metrics")
	}
	h.handler = rejectRebinding(mux)
	return h, nil
}

// mcpPath is the path a client is configured with.
func (h *HTTPHandler) mcpPath() string {
	if h.sse != nil {
		return "/sse"
	}
	return "/mcp"
}

//go:embed index.html
var indexHTML string

// indexPage is parsed on first use: only a browser at "/" needs it, and a
// stdio server never serves it, so its start does not pay for the parse.
var indexPage = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("index").Parse(indexHTML))
})

// notFound answers every path the mux does not serve: a JSON 404 naming the
// paths it does, so a client configured with "/", "/mcp/" or "/sse" on the
// wrong transport learns the right URL. A browser asking for "/" gets a
// short page saying what this is instead.
func (h *HTTPHandler) notFound(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
		strings.Contains(r.Header.Get("Accept"), "text/html") {
		h.index(w, r)
		return
	}
	writeJSON(w, http.StatusNotFound, map[string]any{
		"code":  modelgate.ENotFound,
		"error": fmt.Sprintf("no such path %s on this server; its MCP endpoint is %s", r.URL.Path, h.mcpPath()),
		"paths": h.paths,
		"docs":  DocsURL,
	})
}

// index writes the page a browser gets at GET /. Its links and styles are
// its own: it makes no request to another site.
func (h *HTTPHandler) index(w http.ResponseWriter, r *http.Request) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	u := scheme + "://" + r.Host + h.mcpPath()
	typ := "http"
	if h.sse != nil {
		typ = "sse"
	}
	example := fmt.Sprintf(`{ "mcpServers": { "modelgate": {
    "type": %q, "url": %q,
    "headers": { "Authorization": "Bearer mg_…" } } } }`, typ, u)
	transport := "streamable HTTP (stateless)"
	if h.sse != nil {
		transport = "HTTP+SSE"
	}
	var buf bytes.Buffer
	err := indexPage().Execute(&buf, map[string]any{
		"Version": h.o.Version, "URL": u, "Transport": transport,
		"Example": example, "Paths": h.paths, "Docs": DocsURL,
	})
	if err != nil {
		h.o.Log.Error().Err(err).Msg("render index page")
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	// The page needs nothing from anywhere else; say so to the browser.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

// ServeHTTP serves one request.
func (h *HTTPHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.sse != nil && r.Method == http.MethodPost {
		// An SSE message is answered 202 and its call runs afterwards on
		// its own goroutine; counting the request too lets shutdown see a
		// call that is still being authenticated or read.
		h.calls.add()
		defer h.calls.done()
	}
	h.handler.ServeHTTP(w, r)
}

// Serve serves h on ln until ctx ends, then shuts down gracefully: it stops
// accepting connections and reporting ready, lets in-flight calls finish
// (for at most ShutdownTimeout), closes the SSE streams and returns. It
// returns nil after a clean shutdown, an error if ln fails or if calls were
// still running when the timeout cut them off. The caller closes the store
// afterwards. With HTTPOptions.TLS set it serves HTTPS on ln.
func Serve(ctx context.Context, ln net.Listener, h *HTTPHandler) error {
	if h.o.TLS != nil {
		ln = tls.NewListener(ln, h.o.TLS)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          log.New(zerologWriter{h.o.Log}, "", 0),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	h.o.Log.Info().Dur("timeout", h.o.ShutdownTimeout).Msg("shutting down: finishing in-flight calls")
	sctx, cancel := context.WithTimeout(context.Background(), h.o.ShutdownTimeout)
	defer cancel()
	h.draining.Store(true)
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(sctx) }() // closes the listener, waits for active requests
	drainErr := h.drain(sctx)
	err := <-shut
	<-served // http.ErrServerClosed
	if err != nil || drainErr != nil {
		srv.Close()
		return fmt.Errorf("shutdown: in-flight calls were cut off after %s", h.o.ShutdownTimeout)
	}
	h.o.Log.Info().Msg("shut down cleanly")
	return nil
}

// drain waits for in-flight tool calls, then ends the SSE streams, which
// would otherwise keep http.Server.Shutdown waiting until its timeout.
// Streamable HTTP needs nothing here: its calls are ordinary requests that
// Shutdown waits for.
func (h *HTTPHandler) drain(ctx context.Context) error {
	err := h.calls.wait(ctx)
	if h.sse != nil {
		// A finished call's answer is queued for its stream; give the
		// stream a moment to write it before closing. A message accepted
		// just before its call started counts again once it starts: wait
		// until a whole grace period passes with nothing in flight.
		for err == nil {
			select {
			case <-time.After(sseFlushGrace):
			case <-ctx.Done():
				err = ctx.Err()
			}
			if err != nil || !h.calls.busy() {
				break
			}
			err = h.calls.wait(ctx)
		}
		h.sse.CloseSessions()
	}
	return err
}

func (h *HTTPHandler) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when the database is reachable and the server is not
// shutting down, so a load balancer stops sending requests to a draining
// replica. The catalog was loaded before the server started: a server with a
// broken catalog never starts.
func (h *HTTPHandler) readyz(w http.ResponseWriter, r *http.Request) {
	if h.draining.Load() {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
		return
	}
	if h.o.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := h.o.Ready(ctx); err != nil {
			// The detail (a host name, say) is for the operator's log, not
			// for an unauthenticated prober.
			h.o.Log.Warn().Err(err).Msg("not ready")
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// limitBody refuses a body announced larger than the limit before the
// token is looked up, so an oversized request costs no database query.
func (h *HTTPHandler) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > h.o.MaxBodyBytes {
			tooLarge(w, h.o.MaxBodyBytes)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// readBody reads a POST body whole, refusing it with 413 past the limit
// (a chunked body announces no length). mcp-go reads the whole body anyway;
// reading it here lets the limit answer with the right status instead of a
// JSON-RPC parse error.
func (h *HTTPHandler) readBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		rc.SetReadDeadline(time.Now().Add(bodyReadTimeout))
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.o.MaxBodyBytes))
		rc.SetReadDeadline(time.Time{})
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			tooLarge(w, h.o.MaxBodyBytes)
			return
		case err != nil:
			writeJSON(w, http.StatusBadRequest, map[string]string{"code": modelgate.EInvalidArgument, "error": "could not read the request body"})
			return
		}
		r.Body = bodyBytes{bytes.NewReader(body)}
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}

// limitRate refuses a request of a caller over its rate with 429 before it
// costs anything more, and marks the request as counted so that its tool
// call is not counted twice.
func (h *HTTPHandler) limitRate(next http.Handler) http.Handler {
	if h.o.Limiter == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller, _ := modelgate.CallerFrom(r.Context())
		if ok, wait := h.o.Limiter.Allow(Keys(caller)...); !ok {
			h.o.Metrics.RateLimited("http", caller.Org)
			secs := ratelimit.RetrySeconds(wait)
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			writeJSON(w, http.StatusTooManyRequests, map[string]any{
				"code":                modelgate.ERateLimited,
				"error":               fmt.Sprintf("too many requests for org %q; retry in %d s", caller.Org, secs),
				"retry_after_seconds": secs,
			})
			return
		}
		next.ServeHTTP(w, r.WithContext(ratelimit.MarkChecked(r.Context())))
	})
}

func tooLarge(w http.ResponseWriter, limit int64) {
	w.Header().Set("Connection", "close")
	writeJSON(w, http.StatusRequestEntityTooLarge, map[string]string{
		"code":  modelgate.EInvalidArgument,
		"error": fmt.Sprintf("request body larger than %d bytes", limit),
	})
}

// ownerTag names who opened an SSE session without revealing it: a keyed
// hash of the caller's org and token prefix. It ends every session id, so a
// POST /message is accepted only from the token that opened the stream.
func (h *HTTPHandler) ownerTag(c modelgate.Caller) string {
	m := hmac.New(sha256.New, h.sessionKey)
	m.Write([]byte(c.Org + "\x00" + c.TokenPrefix))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:12])
}

// ownSession refuses a message for a session opened by another token, as if
// the session did not exist: the answer would go to the other token's
// stream, and a call would run with a caller the stream's owner never
// authorised.
func (h *HTTPHandler) ownSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller, _ := modelgate.CallerFrom(r.Context())
		id := r.URL.Query().Get("sessionId")
		_, tag, _ := strings.Cut(id, ".")
		if id != "" && !hmac.Equal([]byte(tag), []byte(h.ownerTag(caller))) {
			writeJSON(w, http.StatusNotFound, map[string]string{"code": modelgate.ENotFound, "error": "unknown session"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// rejectRebinding is the DNS-rebinding protection of a loopback listener: a
// request that arrived on a loopback address must name a loopback host, and
// its Origin, if any, must be a loopback origin. Otherwise a web page whose
// domain was rebound to 127.0.0.1 could drive the local server from a
// victim's browser. It runs before authentication, so such a request gets
// 403 whether or not the server asks for tokens. Requests on other
// addresses are not affected (they are authenticated with tokens).
func rejectRebinding(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		if local != nil && isLoopback(local.String()) {
			if !isLoopback(r.Host) {
				writeJSON(w, http.StatusForbidden, map[string]string{"code": modelgate.EForbidden, "error": "forbidden: this server listens on a loopback address and answers only requests whose Host is localhost, 127.0.0.1 or [::1] (DNS-rebinding protection); connect to it by one of those names"})
				return
			}
			// The key entry page is served with Referrer-Policy: no-referrer,
			// so a browser posts its form with "Origin: null"; the page checks
			// Sec-Fetch-Site and its form token itself.
			if o := r.Header.Get("Origin"); o != "" && !(o == "null" && strings.HasPrefix(r.URL.Path, "/keys/")) {
				u, err := url.Parse(o)
				if err != nil || !isLoopback(u.Host) {
					writeJSON(w, http.StatusForbidden, map[string]string{"code": modelgate.EForbidden, "error": "forbidden: this server listens on a loopback address and refuses requests from a web page of another origin (DNS-rebinding protection)"})
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// isLoopback reports whether a host or host:port is localhost or a loopback
// IP address.
func isLoopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = strings.Trim(hostport, "[]")
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// IsLoopbackAddr reports whether a listen address (host:port) binds only
// loopback interfaces. An empty host ("":8080) binds every interface and is
// not loopback.
func IsLoopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && host != "" && isLoopback(host)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// callCounter counts in-flight tool calls so that shutdown can wait for
// them. (A sync.WaitGroup cannot: calls keep arriving while it waits.)
type callCounter struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0
}

func (c *callCounter) middleware(next server.ToolHandlerFunc) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		c.add()
		defer c.done()
		return next(ctx, req)
	}
}

func (c *callCounter) add() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == 0 {
		c.idle = make(chan struct{})
	}
	c.n++
}

func (c *callCounter) done() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n--; c.n == 0 {
		close(c.idle)
	}
}

func (c *callCounter) busy() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n > 0
}

// wait returns when no call is in flight, or ctx's error when it ends first.
func (c *callCounter) wait(ctx context.Context) error {
	c.mu.Lock()
	if c.n == 0 {
		c.mu.Unlock()
		return nil
	}
	idle := c.idle
	c.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
