package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/mark3labs/mcp-go/server"
	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/auth"
	"github.com/modelgate/modelgate/mcpserver"
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
	stop, err := startProvisioner(ctx, a)
	if err != nil {
		return err
	}
	defer stop() // before a.Close: the provisioner uses the store
	if cfg.Transport == "stdio" {
		a.log.Info().Str("org", cfg.Org).Msg("serving MCP on stdio")
		err := mcpserver.ServeStdio(ctx, s, cfg.Org, env.Stdin, env.Stdout, a.log, cfg.CallTimeout)
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return nil // SIGTERM/SIGINT: a clean stop
		}
		return err
	}
	return serveNetwork(ctx, cfg, a, s, ln)
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
func serveNetwork(ctx context.Context, cfg *Config, a *app, s *server.MCPServer, ln net.Listener) error {
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
	a.metrics.WatchProvisioningBacklog(a.store.CountProvisioning)
	ho := mcpserver.HTTPOptions{
		Transport:       cfg.Transport,
		Auth:            auth.New(a.store, ao).Middleware,
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
