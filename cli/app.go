package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/gate"
	"github.com/modelgate/modelgate/keyentry"
	"github.com/modelgate/modelgate/mcpserver"
	"github.com/modelgate/modelgate/metrics"
	"github.com/modelgate/modelgate/postgres"
	"github.com/modelgate/modelgate/provision"
	"github.com/modelgate/modelgate/ratelimit"
	"github.com/modelgate/modelgate/registry"
	"github.com/modelgate/modelgate/secrets"
	"github.com/modelgate/modelgate/sqlite"
	"github.com/modelgate/modelgate/tools"
	"github.com/modelgate/modelgate/verify"
	"github.com/rs/zerolog"
)

// app is the assembled server: catalog, store, keys, gate and service.
type app struct {
	cfg     *Config
	log     zerolog.Logger
	catalog *registry.Catalog
	store   modelgate.Store
	keys    *secrets.Keyring
	gate    *gate.Gate
	service *provision.Service
	// listen wakes provisioners when a workspace is created.
	listen func(ctx context.Context, wake func()) error
	// limiter limits calls per org and per token (nil: no limit); the
	// network transports and the tool middleware share it.
	limiter *ratelimit.Limiter
	// metrics counts for GET /metrics (nil: metrics are off).
	metrics *metrics.Metrics
	// keyEntry makes key links and serves their page (nil: --key-entry=off
	// or a command that is not serve).
	keyEntry *keyentry.Service
}

// startKeyEntry turns key entry on, with links under base ("" for a
// loopback listener opened when the first link is made).
func (a *app) startKeyEntry(base string) {
	a.keyEntry = keyentry.New(keyentry.Options{
		Store: a.store, Service: a.service, TTL: a.cfg.KeyLinkTTL, BaseURL: base, Log: a.log, Metrics: a.metrics,
	})
	a.keyEntry.Attach(a.service)
}

// keyEntryHandler is the page's handler, or nil when key entry is off.
func (a *app) keyEntryHandler() http.Handler {
	if a.keyEntry == nil {
		return nil
	}
	return a.keyEntry.Handler()
}

// newLogger returns the stderr logger at the configured level. A daemon
// (serve, provisioner) logs JSON at info by default; the people's commands
// log at warn, in zerolog's console format when stderr is a terminal.
func newLogger(cfg *Config, stderr io.Writer, daemon, terminal bool) (zerolog.Logger, error) {
	name := cfg.LogLevel
	if name == "" {
		name = "warn"
		if daemon {
			name = "info"
		}
	}
	level, err := zerolog.ParseLevel(strings.ToLower(name))
	if err != nil || name == "" {
		return zerolog.Nop(), fmt.Errorf("--log-level: unknown level %q (debug, info, warn, error)", cfg.LogLevel)
	}
	if terminal && !daemon {
		stderr = zerolog.ConsoleWriter{Out: stderr, TimeFormat: time.TimeOnly}
	}
	return zerolog.New(stderr).Level(level).With().Timestamp().Logger(), nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

// loadCatalog loads the configured catalog (or the embedded one) and applies
// the default overrides. A broken catalog stops the server: it is never
// fail-open.
func loadCatalog(cfg *Config) (*registry.Catalog, error) {
	c := registry.Default()
	if cfg.Catalog != "" {
		var err error
		if c, err = registry.LoadFile(cfg.Catalog); err != nil {
			return nil, err
		}
	}
	if cfg.DefaultRuntime != "" || cfg.DefaultModel != "" {
		var err error
		if c, err = c.WithDefaults(cfg.DefaultRuntime, cfg.DefaultModel); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// customCatalog reports whether the configuration changes the embedded
// catalog: such a catalog may be broken, so it is loaded (and refused)
// before anything is served.
func customCatalog(cfg *Config) bool {
	return cfg.Catalog != "" || cfg.DefaultRuntime != "" || cfg.DefaultModel != ""
}

// openApp opens the store, the keys and the service.
func openApp(ctx context.Context, cfg *Config, log zerolog.Logger, getenv func(string) string) (*app, error) {
	p, err := planApp(cfg, log, getenv)
	if err != nil {
		return nil, err
	}
	return p.open(ctx, nil)
}

// appPlan is what openApp decides from the configuration and the
// environment alone, before it reads a file or connects to a database: a
// start that is refused here is refused at once.
type appPlan struct {
	cfg    *Config
	log    zerolog.Logger
	getenv func(string) string
	// keys are the keys from the environment; nil: the key file.
	keys *secrets.Keyring
	// dir is the data dir of the embedded store, or of the key file.
	dir string
}

// planApp checks the configuration's secrets, store and limit settings.
func planApp(cfg *Config, log zerolog.Logger, getenv func(string) string) (*appPlan, error) {
	if cfg.MaxWorkspacesPerOrg < 0 || cfg.MaxOrgSecrets < 0 {
		return nil, errors.New("--max-workspaces-per-org and --max-org-secrets must be 0 (no limit) or more")
	}
	if cfg.VerifyTimeout < 0 || cfg.VerifyMaxAge < 0 {
		return nil, errors.New("--verify-timeout and --verify-max-age must not be negative")
	}
	keys, haveKey, err := secrets.KeyringFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	p := &appPlan{cfg: cfg, log: log, getenv: getenv}
	if haveKey {
		p.keys = keys
	}
	if cfg.DatabaseURL != "" && !haveKey && !cfg.InsecureDevSecrets {
		return nil, errors.New("PostgreSQL needs MODELGATE_SECRETS_KEY (base64 of 32 random bytes, e.g. `head -c32 /dev/urandom | base64`); --insecure-dev-secrets uses a key file in --data-dir instead (development only)")
	}
	if cfg.DatabaseURL == "" || !haveKey {
		if p.dir, err = cfg.dataDir(getenv); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// open loads the catalog (unless cat is given), the keys and the store, and
// builds the gate, the service and its live credential checker.
func (p *appPlan) open(ctx context.Context, cat *registry.Catalog) (*app, error) {
	cfg, log := p.cfg, p.log
	if cat == nil {
		var err error
		if cat, err = loadCatalog(cfg); err != nil {
			return nil, err
		}
	}
	a := &app{cfg: cfg, log: log, catalog: cat, limiter: ratelimit.New(cfg.RateLimit, cfg.Burst), keys: p.keys}
	if cfg.metricsEnabled() {
		a.metrics = metrics.New(metrics.Options{OrgLabels: cfg.MetricsOrgLabels})
	}
	if a.keys == nil {
		key, err := secrets.LoadOrCreateKeyFile(p.dir)
		if err != nil {
			return nil, err
		}
		if a.keys, err = secrets.NewKeyring(key); err != nil {
			return nil, err
		}
		if cfg.DatabaseURL != "" {
			log.Warn().Msg("--insecure-dev-secrets: secrets are sealed with a key file in the data dir")
		}
	}
	if cfg.DatabaseURL != "" {
		db, err := postgres.Open(ctx, cfg.DatabaseURL, postgres.Options{Log: log})
		if err != nil {
			return nil, err
		}
		a.store, a.listen = db, db.ListenProvision
	} else {
		db, err := sqlite.Open(ctx, filepath.Join(p.dir, "modelgate.db"), sqlite.Options{Log: log})
		if err != nil {
			return nil, err
		}
		a.store, a.listen = db, db.ListenProvision
	}
	a.gate = gate.New(cat, log).WithMetrics(a.metrics)
	a.service = provision.New(a.store, a.gate, a.keys, log).WithLimits(provision.Limits{
		Workspaces: cfg.MaxWorkspacesPerOrg, OrgSecrets: cfg.MaxOrgSecrets})
	v, err := newVerifier(cfg, cat, a.store, a.metrics, log)
	if err != nil {
		a.store.Close()
		return nil, err
	}
	a.service.SetVerifier(v)
	return a, nil
}

// newVerifier returns the live credential checker the configuration asks
// for (CONTRACT.md §8).
func newVerifier(cfg *Config, cat *registry.Catalog, store modelgate.Store, m *metrics.Metrics, log zerolog.Logger) (*verify.Checker, error) {
	var off bool
	switch strings.ToLower(cfg.VerifyCredentials) {
	case "on", "":
	case "off":
		off = true
	default:
		return nil, fmt.Errorf("--verify-credentials: want on or off, got %q", cfg.VerifyCredentials)
	}
	v, err := verify.New(cat, verify.Options{
		Off: off, Timeout: cfg.VerifyTimeout, BaseURLs: cfg.VerifyBaseURLs.m, Audit: store, Metrics: m,
		Log: log.With().Str("component", "verify").Logger(),
	})
	if err != nil {
		return nil, fmt.Errorf("--verify-base-url: %w", err)
	}
	if off {
		log.Info().Msg("--verify-credentials=off: keys are stored and workspaces started without asking their providers")
	}
	return v, nil
}

// checkKeys refuses to serve when the store holds secrets sealed under a key
// id the keyring does not have (CONTRACT.md §6): such a server would treat
// every such secret as missing. The error names each key id and how to give
// the key.
func (a *app) checkKeys(ctx context.Context) error {
	ids, err := a.store.SecretKeyIDs(ctx)
	if err != nil {
		return fmt.Errorf("check secret keys: %w", err)
	}
	have := a.keys.KeyIDs()
	var missing []string
	for _, id := range ids {
		if !slices.Contains(have, id) {
			missing = append(missing, id)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("the store holds secrets sealed under key id %s, which this server does not have (it has %s): "+
		"set MODELGATE_SECRETS_KEY to the key the store was sealed with, or, during a rotation, add the old key to MODELGATE_SECRETS_PREVIOUS_KEYS "+
		"(comma-separated base64 keys) and run `mcp-server secret rotate-key`", strings.Join(missing, ", "), strings.Join(have, ", "))
}

func (a *app) Close() error { return a.store.Close() }

func (a *app) deps() tools.Deps {
	return tools.Deps{Service: a.service, Log: a.log, KeyEntry: a.keyEntry}
}

func (a *app) caller() modelgate.Caller { return modelgate.Caller{Org: a.cfg.Org} }

// mcpServerOptions are the MCP server options from the configuration.
func (a *app) mcpServerOptions(version string) (mcpserver.Options, error) {
	o, err := serverOptions(a.cfg, a.limiter, a.deps(), version)
	o.Metrics = a.metrics
	return o, err
}

// serverOptions are the MCP server options from the configuration, with
// deps (stdio start-up passes only the logger and defers the rest).
func serverOptions(cfg *Config, limiter *ratelimit.Limiter, deps tools.Deps, version string) (mcpserver.Options, error) {
	allow, err := cfg.allowList()
	if err != nil {
		return mcpserver.Options{}, err
	}
	return mcpserver.Options{
		Deps:        deps,
		Version:     version,
		ReadOnly:    cfg.ReadOnly,
		Allow:       allow,
		CallTimeout: cfg.CallTimeout,
		Limiter:     limiter,
	}, nil
}
