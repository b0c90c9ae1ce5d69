package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/gate"
	"github.com/modelgate/modelgate/mcpserver"
	"github.com/modelgate/modelgate/postgres"
	"github.com/modelgate/modelgate/provision"
	"github.com/modelgate/modelgate/ratelimit"
	"github.com/modelgate/modelgate/registry"
	"github.com/modelgate/modelgate/secrets"
	"github.com/modelgate/modelgate/sqlite"
	"github.com/modelgate/modelgate/tools"
	"github.com/rs/zerolog"
)

// app is the assembled server: catalog, store, keys, gate and service.
type app struct {
	cfg     *Config
	log     zerolog.Logger
	catalog *registry.Catalog
	store   modelgate.Store
	keys    *secrets.Keyring
	service *provision.Service
	// listen wakes provisioners when a workspace is created.
	listen func(ctx context.Context, wake func()) error
	// limiter limits calls per org and per token (nil: no limit); the
	// network transports and the tool middleware share it.
	limiter *ratelimit.Limiter
}

// newLogger returns the structured stderr logger at the configured level.
func newLogger(cfg *Config, stderr io.Writer) (zerolog.Logger, error) {
	level, err := zerolog.ParseLevel(strings.ToLower(cfg.LogLevel))
	if err != nil || cfg.LogLevel == "" {
		return zerolog.Nop(), fmt.Errorf("--log-level: unknown level %q (debug, info, warn, error)", cfg.LogLevel)
	}
	return zerolog.New(stderr).Level(level).With().Timestamp().Logger(), nil
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

// planApp checks the configuration's secrets and store settings.
func planApp(cfg *Config, log zerolog.Logger, getenv func(string) string) (*appPlan, error) {
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

// open loads the catalog (unless cat is given), the keys and the store.
func (p *appPlan) open(ctx context.Context, cat *registry.Catalog) (*app, error) {
	cfg, log := p.cfg, p.log
	if cat == nil {
		var err error
		if cat, err = loadCatalog(cfg); err != nil {
			return nil, err
		}
	}
	a := &app{cfg: cfg, log: log, catalog: cat, limiter: ratelimit.New(cfg.RateLimit, cfg.Burst), keys: p.keys}
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
	a.service = provision.New(a.store, gate.New(cat, log), a.keys, log)
	return a, nil
}

func (a *app) Close() error { return a.store.Close() }

func (a *app) deps() tools.Deps { return tools.Deps{Service: a.service, Log: a.log} }

func (a *app) caller() modelgate.Caller { return modelgate.Caller{Org: a.cfg.Org} }

// mcpServerOptions are the MCP server options from the configuration.
func (a *app) mcpServerOptions(version string) mcpserver.Options {
	return serverOptions(a.cfg, a.limiter, a.deps(), version)
}

// serverOptions are the MCP server options from the configuration, with
// deps (stdio start-up passes only the logger and defers the rest).
func serverOptions(cfg *Config, limiter *ratelimit.Limiter, deps tools.Deps, version string) mcpserver.Options {
	return mcpserver.Options{
		Deps:        deps,
		Version:     version,
		ReadOnly:    cfg.ReadOnly,
		Allow:       cfg.allowList(),
		CallTimeout: cfg.CallTimeout,
		Limiter:     limiter,
	}
}
