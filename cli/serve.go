package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"runtime/debug"
	"sync"

	"github.com/mark3labs/mcp-go/server"
	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/auth"
	"github.com/modelgate/modelgate/mcpserver"
	"github.com/modelgate/modelgate/ratelimit"
	"github.com/modelgate/modelgate/registry"
	"github.com/modelgate/modelgate/tools"
	"github.com/rs/zerolog"
)

func runServe(ctx context.Context, env Env, args []string) error {
	cfg, rest, err := parseFlags(env, "serve", args, nil)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("serve: unexpected argument %q", rest[0])
	}
	switch cfg.Transport {
	case "stdio", mcpserver.TransportHTTP, mcpserver.TransportSSE:
	default:
		return fmt.Errorf("--transport: unknown transport %q (stdio, http, sse)", cfg.Transport)
	}
	if cfg.Transport != "stdio" && cfg.AllowNoAuth && !mcpserver.IsLoopbackAddr(cfg.Addr) {
		return fmt.Errorf("--allow-no-auth: refused on --addr %s; serving without tokens is only allowed on a loopback address such as 127.0.0.1:8080", cfg.Addr)
	}
	if cfg.Transport == "stdio" {
		return serveStdio(ctx, env, cfg)
	}
	a, err := openFromFlags(ctx, env, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	s, err := mcpserver.New(a.mcpServerOptions(Version))
	if err != nil {
		return err
	}
	stop, err := startProvisioner(ctx, a)
	if err != nil {
		return err
	}
	defer stop() // before a.Close: the provisioner uses the store
	return serveNetwork(ctx, cfg, a, s, env.Getenv)
}

// serveStdio serves MCP on stdio. Only what initialize needs stands before
// its answer: the flags, the logger and the MCP server. The embedded
// catalog, the keys and the store (with its schema check) are opened once
// initialize has been answered, while the client sends its next messages,
// which wait for them (mcpserver.Options.Deferred). A catalog given by flag
// is loaded first, so a broken one is refused before anything is served. If
// the store cannot be opened, the waiting requests fail and serveStdio
// returns that error. What the configuration alone decides (keys from the
// environment, a database without a key) is checked before serving.
func serveStdio(ctx context.Context, env Env, cfg *Config) error {
	log, err := newLogger(cfg, env.Stderr)
	if err != nil {
		return err
	}
	plan, err := planApp(cfg, log, env.Getenv)
	if err != nil {
		return err
	}
	var cat *registry.Catalog
	if customCatalog(cfg) {
		if cat, err = loadCatalog(cfg); err != nil {
			return err
		}
	}
	serveCtx, endServe := context.WithCancel(ctx)
	defer endServe()
	var (
		mu       sync.Mutex
		started  bool // the app is being opened
		finished bool // serving ended: too late to open
		opened   = make(chan struct{})
		a        *app
		stop     = func() {}
		openErr  error
	)
	o := serverOptions(cfg, ratelimit.New(cfg.RateLimit, cfg.Burst), tools.Deps{Log: log}, Version)
	o.Deferred = func() (tools.Deps, error) {
		mu.Lock()
		if finished {
			mu.Unlock()
			return tools.Deps{}, errors.New("stdio closed")
		}
		started = true
		mu.Unlock()
		defer close(opened)
		if a, openErr = plan.open(ctx, cat); openErr != nil {
			log.Error().Err(openErr).Msg("could not start")
			endServe()
			return tools.Deps{}, openErr
		}
		if stop, openErr = startProvisioner(ctx, a); openErr != nil {
			a.Close()
			endServe()
			return tools.Deps{}, openErr
		}
		// Start-up garbage (catalog parsing, schema compilation, the first
		// connections) is most of the heap by now: collect it and give the
		// memory back, so an idle stdio server holds only what it uses.
		go func() { runtime.GC(); debug.FreeOSMemory() }()
		return a.deps(), nil
	}
	// The app opens once the first answer (initialize's) is written.
	written := make(chan struct{})
	var once sync.Once
	kick := func() { once.Do(func() { close(written) }) }
	defer kick()
	o.DeferUntil = written
	s, err := mcpserver.New(o)
	if err == nil {
		log.Info().Str("org", cfg.Org).Msg("serving MCP on stdio")
		err = mcpserver.ServeStdio(serveCtx, s, cfg.Org, env.Stdin, afterWrite{env.Stdout, kick}, log)
	}
	mu.Lock()
	finished = true
	wasStarted := started
	mu.Unlock()
	if !wasStarted {
		return err // nothing was asked of the store: it was never opened
	}
	<-opened // a start cut short by stdin's end still finishes opening
	if openErr != nil {
		if ctx.Err() != nil {
			return nil // SIGTERM/SIGINT while opening: a clean stop
		}
		return openErr
	}
	stop() // before a.Close: the provisioner uses the store
	a.Close()
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil // SIGTERM/SIGINT: a clean stop
	}
	return err
}

// startProvisioner runs the configured provisioner beside the server unless
// --no-provisioner is set or no driver is configured. The returned function
// stops it and waits for it.
func startProvisioner(ctx context.Context, a *app) (stop func(), err error) {
	if a.cfg.NoProvisioner {
		return func() {}, nil
	}
	p, err := newProvisioner(a)
	if err != nil || p == nil {
		return func() {}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := p.Run(ctx); err != nil {
			a.log.Error().Err(err).Msg("provisioner stopped")
		}
	}()
	return func() { cancel(); <-done }, nil
}

// serveNetwork serves streamable HTTP or SSE on cfg.Addr until ctx ends
// (SIGTERM or SIGINT), then shuts down gracefully; runServe closes the store
// afterwards.
func serveNetwork(ctx context.Context, cfg *Config, a *app, s *server.MCPServer, getenv func(string) string) error {
	tuneGC(getenv, a.log)
	ao := auth.Options{Log: a.log}
	if cfg.AllowNoAuth {
		ao.Anonymous = &modelgate.Caller{Org: cfg.Org}
		a.log.Warn().Str("org", cfg.Org).Msg("--allow-no-auth: requests without a token act for the org")
	}
	authn := auth.New(a.store, ao)
	// Verified tokens are cached while the store's revocation feed runs.
	watchCtx, stopWatch := context.WithCancel(ctx)
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		if err := authn.WatchRevocations(watchCtx); err != nil {
			a.log.Warn().Err(err).Msg("tokens are looked up on every request")
		}
	}()
	defer func() { stopWatch(); <-watched }()
	h, err := mcpserver.NewHTTPHandler(s, mcpserver.HTTPOptions{
		Transport:       cfg.Transport,
		Auth:            authn.Middleware,
		Limiter:         a.limiter,
		MaxBodyBytes:    cfg.MaxBodyBytes,
		ShutdownTimeout: cfg.ShutdownTimeout,
		Ready: func(ctx context.Context) error {
			if a.catalog == nil {
				return errors.New("no catalog loaded")
			}
			return a.store.Ping(ctx)
		},
		Log: a.log,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("--addr: %w", err)
	}
	// A name such as localhost was checked by name; what counts is where
	// the socket really listens.
	if cfg.AllowNoAuth && !mcpserver.IsLoopbackAddr(ln.Addr().String()) {
		ln.Close()
		return fmt.Errorf("--allow-no-auth: refused: %s listens on %s, which is not a loopback address", cfg.Addr, ln.Addr())
	}
	paths := "/mcp (streamable HTTP, stateless)"
	if cfg.Transport == mcpserver.TransportSSE {
		paths = "/sse and /message (HTTP+SSE)"
	}
	a.log.Info().Str("addr", ln.Addr().String()).Str("transport", cfg.Transport).Bool("auth", !cfg.AllowNoAuth).
		Msgf("serving MCP at http://%s: %s", ln.Addr(), paths)
	return mcpserver.Serve(ctx, ln, h)
}

// afterWrite calls f after each write to w (f must be cheap after its
// first call).
type afterWrite struct {
	w io.Writer
	f func()
}

func (a afterWrite) Write(p []byte) (int, error) {
	n, err := a.w.Write(p)
	a.f()
	return n, err
}

// The network server's garbage collector settings, unless GOGC or
// GOMEMLIMIT is set. Its live heap is small (a few MB: the catalog, the
// connections, the requests in flight), so the default GOGC=100 collects
// every few MB allocated — every few dozen list_offered_models answers —
// and a profile under 32 clients put the collector at 10-12 % of the CPU.
// GOGC=400 collects a quarter as often for a heap of at most five times the
// live one (the HTTP server after a load run: 39 instead of 28 MB RSS; 1,000
// SSE sessions: 60 MB either way, docs/performance.md); the soft limit
// makes the collector work harder before a large live heap grows further.
const (
	networkGCPercent   = 400
	networkMemoryLimit = 256 << 20
)

// tuneGC applies the network server's collector settings unless the
// operator chose their own.
func tuneGC(getenv func(string) string, log zerolog.Logger) {
	if getenv("GOGC") != "" || getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(networkGCPercent)
	debug.SetMemoryLimit(networkMemoryLimit)
	log.Debug().Int("gogc", networkGCPercent).Int64("gomemlimit", networkMemoryLimit).Msg("garbage collector tuned for the network server")
}
