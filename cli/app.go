package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/gate"
	"github.com/modelgate/modelgate/keyentry"
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
	// keyEntry makes key links and serves their page (nil: --key-entry=off
	// or a command that is not serve).
	keyEntry *keyentry.Service
}

// startKeyEntry turns key entry on, with links under base ("" for a
// loopback listener opened when the first link is made).
func (a *app) startKeyEntry(base string) {
	a.keyEntry = keyentry.New(keyentry.Options{
		Store: a.store, Service: a.service, TTL: a.cfg.KeyLinkTTL, BaseURL: base, Log: a.log,
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

// openApp opens the store, the keys and the service.
func openApp(ctx context.Context, cfg *Config, log zerolog.Logger, getenv func(string) string) (*app, error) {
	cat, err := loadCatalog(cfg)
	if err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, log: log, catalog: cat, limiter: ratelimit.New(cfg.RateLimit, cfg.Burst)}
	keys, haveKey, err := secrets.KeyringFromEnv(getenv)
	if err != nil {
		return nil, err
	}
	if cfg.DatabaseURL != "" {
		if !haveKey {
			if !cfg.InsecureDevSecrets {
				return nil, errors.New("PostgreSQL needs MODELGATE_SECRETS_KEY (base64 of 32 random bytes, e.g. `head -c32 /dev/urandom | base64`); --insecure-dev-secrets uses a key file in --data-dir instead (development only)")
			}
			if keys, err = keyFile(cfg, getenv); err != nil {
				return nil, err
			}
			log.Warn().Msg("--insecure-dev-secrets: secrets are sealed with a key file in the data dir")
		}
		db, err := postgres.Open(ctx, cfg.DatabaseURL, postgres.Options{Log: log})
		if err != nil {
			return nil, err
		}
		a.store, a.listen = db, db.ListenProvision
	} else {
		dir, err := cfg.dataDir(getenv)
		if err != nil {
			return nil, err
		}
		if !haveKey {
			if keys, err = keyFile(cfg, getenv); err != nil {
				return nil, err
			}
		}
		db, err := sqlite.Open(ctx, filepath.Join(dir, "modelgate.db"), sqlite.Options{Log: log})
		if err != nil {
			return nil, err
		}
		a.store, a.listen = db, db.ListenProvision
	}
	a.keys = keys
	a.service = provision.New(a.store, gate.New(cat, log), keys, log)
	return a, nil
}

func keyFile(cfg *Config, getenv func(string) string) (*secrets.Keyring, error) {
	dir, err := cfg.dataDir(getenv)
	if err != nil {
		return nil, err
	}
	key, err := secrets.LoadOrCreateKeyFile(dir)
	if err != nil {
		return nil, err
	}
	return secrets.NewKeyring(key)
}

func (a *app) Close() error { return a.store.Close() }

func (a *app) deps() tools.Deps {
	return tools.Deps{Service: a.service, Log: a.log, KeyEntry: a.keyEntry}
}

func (a *app) caller() modelgate.Caller { return modelgate.Caller{Org: a.cfg.Org} }

// mcpServerOptions are the MCP server options from the configuration.
func (a *app) mcpServerOptions(version string) mcpserver.Options {
	return mcpserver.Options{
		Deps:        a.deps(),
		Version:     version,
		ReadOnly:    a.cfg.ReadOnly,
		Allow:       a.cfg.allowList(),
		CallTimeout: a.cfg.CallTimeout,
		Limiter:     a.limiter,
	}
}
