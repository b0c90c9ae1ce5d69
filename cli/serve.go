package cli

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/mark3labs/mcp-go/server"
	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/auth"
	"github.com/modelgate/modelgate/mcpserver"
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
	if cfg.Transport == "stdio" {
		a.log.Info().Str("org", cfg.Org).Msg("serving MCP on stdio")
		err := mcpserver.ServeStdio(ctx, s, cfg.Org, env.Stdin, env.Stdout, a.log)
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return nil // SIGTERM/SIGINT: a clean stop
		}
		return err
	}
	return serveNetwork(ctx, cfg, a, s)
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
func serveNetwork(ctx context.Context, cfg *Config, a *app, s *server.MCPServer) error {
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
