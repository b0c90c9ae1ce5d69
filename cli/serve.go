package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"

	"github.com/mark3labs/mcp-go/server"
	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/auth"
	"github.com/modelgate/modelgate/mcpserver"
	"github.com/modelgate/modelgate/ratelimit"
	"github.com/modelgate/modelgate/registry"
	"github.com/modelgate/modelgate/tools"
	"github.com/rs/zerolog"
)

func serveSetup(*flag.FlagSet) action { return runServe }

// runServe serves MCP on stdio or on the network until ctx ends or, on
// stdio, the input does.
func runServe(ctx context.Context, inv *invocation) error {
	cfg, env := inv.cfg, inv.env
	switch cfg.Transport {
	case "stdio", mcpserver.TransportHTTP, mcpserver.TransportSSE:
	default:
		return fmt.Errorf("--transport: unknown transport %q (stdio, http, sse)", cfg.Transport)
	}
	if cfg.Transport == "stdio" && (cfg.TLSCert != "" || cfg.TLSKey != "") {
		return errors.New("--tls-cert/--tls-key: TLS applies to --transport http or sse, not stdio")
	}
	if cfg.Transport != "stdio" && cfg.AllowNoAuth && !mcpserver.IsLoopbackAddr(cfg.Addr) {
		return fmt.Errorf("--allow-no-auth: refused on --addr %s; serving without tokens is only allowed on a loopback address such as 127.0.0.1:8080", cfg.Addr)
	}
	keyEntry, err := keyEntryOn(cfg)
	if err != nil {
		return err
	}
	if cfg.Transport == "stdio" {
		return serveStdio(ctx, inv, keyEntry)
	}
	// The network listener opens first: key links name its address.
	var ln net.Listener
	if cfg.Transport != "stdio" {
		if ln, err = listen(cfg); err != nil {
			return err
		}
		defer ln.Close()
	}
	a, err := openFromFlags(ctx, inv)
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.checkKeys(ctx); err != nil {
		return err
	}
	if keyEntry {
		base := ""
		if ln != nil {
			if base, err = publicURL(cfg, ln); err != nil {
				return err
			}
		}
		if ln != nil && cfg.PublicURL == "" && !mcpserver.IsLoopbackAddr(ln.Addr().String()) {
			a.log.Warn().Str("base_url", base).Msg("key entry links use the listen address; set --public-url to the address people's browsers reach")
		}
		a.startKeyEntry(base) // stdio (base ""): a loopback listener, opened for the first link
		defer a.keyEntry.Close()
	}
	opts, err := a.mcpServerOptions(Version)
	if err != nil {
		return err
	}
	s, err := mcpserver.New(opts)
	if err != nil {
		return err
	}
	// The provisioner outlives the signal: it stops once serveNetwork has
	// finished the calls in flight (docs/network.md's order), so a call
	// waiting for a workspace its driver is starting sees it start.
	stop, err := startProvisioner(context.WithoutCancel(ctx), a)
	if err != nil {
		return err
	}
	defer stop() // before a.Close: the provisioner uses the store
	return serveNetwork(ctx, cfg, a, s, ln, env.Getenv)
}

// serveStdio serves MCP on stdio. Only what initialize needs stands before
// its answer: the flags, the logger and the MCP server. The embedded
// catalog, the keys and the store (with its schema check and the check that
// this server holds every key id the store's secrets are sealed under) are
// opened once initialize has been answered, while the client sends its
// next messages, which wait for them (mcpserver.Options.Deferred). A catalog
// given by flag is loaded first, so a broken one is refused before anything
// is served. If the store cannot be opened or a key is missing, every request
// after initialize is answered with an error that says the server could not
// start, and serveStdio returns the reason at the end of input (exit 1);
// that holds even when the input ends right after initialize. What the
// configuration alone decides (keys from the environment, a database
// without a key) is checked before serving.
func serveStdio(ctx context.Context, inv *invocation, keyEntry bool) error {
	cfg, env := inv.cfg, inv.env
	log, err := newLogger(cfg, env.Stderr, inv.cmd.daemon, isTerminal(env.Stderr))
	if err != nil {
		return err
	}
	for _, w := range inv.warnings {
		log.Warn().Msg(w)
	}
	plan, err := planApp(cfg, log, inv.getenv)
	if err != nil {
		return err
	}
	var cat *registry.Catalog
	if customCatalog(cfg) {
		if cat, err = loadCatalog(cfg); err != nil {
			return err
		}
	}
	var (
		mu       sync.Mutex
		started  bool // the app is being opened
		kicked   bool // initialize was answered: the store is to be opened
		finished bool // serving ended: too late to open unless kicked
		opened   = make(chan struct{})
		a        *app
		stop     = func() {}
		openErr  error
	)
	o, err := serverOptions(cfg, ratelimit.New(cfg.RateLimit, cfg.Burst), tools.Deps{Log: log}, Version)
	if err != nil {
		return err
	}
	o.Deferred = func() (tools.Deps, error) {
		mu.Lock()
		if finished && !kicked {
			mu.Unlock()
			return tools.Deps{}, errors.New("stdio closed")
		}
		started = true
		mu.Unlock()
		defer close(opened)
		// A start that fails answers every request with an error that says
		// so (the reason is logged) until the input ends; then the command
		// exits 1 with the reason.
		fail := func(err error) (tools.Deps, error) {
			log.Error().Err(err).Msg("could not start")
			openErr = err
			return tools.Deps{}, err
		}
		if a, openErr = plan.open(ctx, cat); openErr != nil {
			return fail(openErr)
		}
		if err := a.checkKeys(ctx); err != nil {
			a.Close()
			return fail(err)
		}
		if keyEntry {
			a.startKeyEntry("") // a loopback listener, opened for the first link
		}
		if stop, openErr = startProvisioner(ctx, a); openErr != nil {
			a.Close()
			return fail(openErr)
		}
		// Start-up garbage (catalog parsing, schema compilation, the first
		// connections) is most of the heap by now: collect it and give the
		// memory back, so an idle stdio server holds only what it uses.
		go func() { runtime.GC(); debug.FreeOSMemory() }()
		return a.deps(), nil
	}
	// The app opens once the first answer (initialize's) is written. A
	// session that got that answer has started, so its failure to open is
	// reported even if the input ended at once; the release at return only
	// lets the waiting goroutine go.
	written := make(chan struct{})
	var once sync.Once
	kick := func() {
		once.Do(func() {
			mu.Lock()
			kicked = true
			mu.Unlock()
			close(written)
		})
	}
	defer once.Do(func() { close(written) })
	o.DeferUntil = written
	s, err := mcpserver.New(o)
	if err == nil {
		log.Info().Str("org", cfg.Org).Msg("serving MCP on stdio")
		err = mcpserver.ServeStdio(ctx, s, cfg.Org, env.Stdin, afterWrite{env.Stdout, kick}, log, cfg.CallTimeout)
	}
	mu.Lock()
	finished = true
	wasStarted := started || kicked
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
	if a.keyEntry != nil {
		a.keyEntry.Close()
	}
	a.Close()
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil // SIGTERM/SIGINT: a clean stop
	}
	return err
}

// keyEntryOn reads --key-entry.
func keyEntryOn(cfg *Config) (bool, error) {
	switch strings.ToLower(cfg.KeyEntry) {
	case "on", "true", "1", "":
		if cfg.KeyLinkTTL <= 0 {
			return false, fmt.Errorf("--key-link-ttl: must be positive, got %s", cfg.KeyLinkTTL)
		}
		return true, nil
	case "off", "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("--key-entry: %q is neither on nor off", cfg.KeyEntry)
}

// publicURL is the base URL of key links: --public-url, or the address the
// listener really listens on.
func publicURL(cfg *Config, ln net.Listener) (string, error) {
	if cfg.PublicURL != "" {
		u, err := url.Parse(cfg.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return "", fmt.Errorf("--public-url: %q is not an http(s) base URL such as https://modelgate.example.com", cfg.PublicURL)
		}
		return strings.TrimRight(cfg.PublicURL, "/"), nil
	}
	scheme := "http"
	if cfg.TLSCert != "" {
		scheme = "https"
	}
	return scheme + "://" + ln.Addr().String(), nil
}

// listen opens the listener of the network transports on --addr.
func listen(cfg *Config) (net.Listener, error) {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("--addr: %w", err)
	}
	// A name such as localhost was checked by name; what counts is where
	// the socket really listens.
	if cfg.AllowNoAuth && !mcpserver.IsLoopbackAddr(ln.Addr().String()) {
		ln.Close()
		return nil, fmt.Errorf("--allow-no-auth: refused: %s listens on %s, which is not a loopback address", cfg.Addr, ln.Addr())
	}
	return ln, nil
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
func serveNetwork(ctx context.Context, cfg *Config, a *app, s *server.MCPServer, ln net.Listener, getenv func(string) string) error {
	tuneGC(getenv, a.log)
	ao := auth.Options{Log: a.log, Metrics: a.metrics}
	if cfg.AllowNoAuth {
		ao.Anonymous = &modelgate.Caller{Org: cfg.Org}
		a.log.Warn().Str("org", cfg.Org).Msg("--allow-no-auth: requests without a token act for the org")
	}
	var certs *mcpserver.CertReloader
	if cfg.TLSCert != "" || cfg.TLSKey != "" {
		var err error
		if certs, err = mcpserver.NewCertReloader(cfg.TLSCert, cfg.TLSKey); err != nil {
			return fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		// Registered before serving, so a SIGHUP from then on reloads
		// instead of ending the process (its default action).
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		go reloadOnSIGHUP(ctx, hup, certs, a.log)
	}
	authn := auth.New(a.store, ao)
	// Verified tokens are cached while the store's revocation feed runs, and
	// discovery's view of each org's credentials while its feed of org
	// secret changes runs.
	watchCtx, stopWatch := context.WithCancel(ctx)
	var watched sync.WaitGroup
	watched.Go(func() {
		if err := authn.WatchRevocations(watchCtx); err != nil {
			a.log.Warn().Err(err).Msg("tokens are looked up on every request")
		}
	})
	watched.Go(func() {
		if err := a.service.WatchOrgSecrets(watchCtx); err != nil {
			a.log.Warn().Err(err).Msg("list_offered_models reads the org's secrets on every call")
		}
	})
	defer func() { stopWatch(); watched.Wait() }()
	a.metrics.WatchProvisioningBacklog(a.store.CountProvisioning)
	ho := mcpserver.HTTPOptions{
		Transport:       cfg.Transport,
		Auth:            authn.Middleware,
		Limiter:         a.limiter,
		MaxBodyBytes:    cfg.MaxBodyBytes,
		ShutdownTimeout: cfg.ShutdownTimeout,
		Metrics:         a.metrics,
		Version:         Version,
		Ready: func(ctx context.Context) error {
			if a.catalog == nil {
				return errors.New("no catalog loaded")
			}
			return a.store.Ping(ctx)
		},
		KeyEntry: a.keyEntryHandler(),
		Log:      a.log,
	}
	scheme := "http"
	if certs != nil {
		ho.TLS, scheme = certs.TLSConfig(), "https"
	}
	h, err := mcpserver.NewHTTPHandler(s, ho)
	if err != nil {
		return err
	}
	paths := "/mcp (streamable HTTP, stateless)"
	if cfg.Transport == mcpserver.TransportSSE {
		paths = "/sse and /message (HTTP+SSE)"
	}
	if a.metrics != nil {
		paths += "; /metrics"
	}
	ev := a.log.Info().Str("addr", ln.Addr().String()).Str("transport", cfg.Transport).Bool("auth", !cfg.AllowNoAuth).
		Bool("metrics", a.metrics != nil)
	if certs != nil {
		ev = ev.Str("tls_subject", certs.Leaf().Subject.String()).Time("tls_not_after", certs.Leaf().NotAfter)
	}
	ev.Msgf("serving MCP at %s://%s: %s", scheme, ln.Addr(), paths)
	if a.metrics != nil && !mcpserver.IsLoopbackAddr(ln.Addr().String()) {
		a.log.Warn().Msg("--metrics: GET /metrics answers without a token on a non-loopback address; restrict who can reach it")
	}
	return mcpserver.Serve(ctx, ln, h)
}

// reloadOnSIGHUP reads the TLS certificate and key again on every signal
// on hup until ctx ends. A failed reload keeps the certificate being served
// and says why in the log.
func reloadOnSIGHUP(ctx context.Context, hup <-chan os.Signal, certs *mcpserver.CertReloader, log zerolog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := certs.Reload(); err != nil {
				log.Error().Err(err).Time("tls_not_after", certs.Leaf().NotAfter).
					Msg("SIGHUP: TLS certificate not reloaded; still serving the previous one")
				continue
			}
			log.Info().Str("tls_subject", certs.Leaf().Subject.String()).Time("tls_not_after", certs.Leaf().NotAfter).
				Msg("SIGHUP: TLS certificate reloaded")
		}
	}
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
