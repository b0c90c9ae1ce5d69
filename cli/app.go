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

// openApp opens the store, the keys and the service.
func openApp(ctx context.Context, cfg *Config, log zerolog.Logger, getenv func(string) string) (*app, error) {
	cat, err := loadCatalog(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.MaxWorkspacesPerOrg < 0 || cfg.MaxOrgSecrets < 0 {
		return nil, errors.New("--max-workspaces-per-org and --max-org-secrets must be 0 (no limit) or more")
	}
	a := &app{cfg: cfg, log: log, catalog: cat, limiter: ratelimit.New(cfg.RateLimit, cfg.Burst)}
	if cfg.metricsEnabled() {
		a.metrics = metrics.New(metrics.Options{OrgLabels: cfg.MetricsOrgLabels})
	}
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
	a.gate = gate.New(cat, log).WithMetrics(a.metrics)
	a.service = provision.New(a.store, a.gate, keys, log).WithLimits(provision.Limits{
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
	if cfg.VerifyTimeout < 0 || cfg.VerifyMaxAge < 0 {
		return nil, errors.New("--verify-timeout and --verify-max-age must not be negative")
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
func (a *app) mcpServerOptions(version string) (mcpserver.Options, error) {
	allow, err := a.cfg.allowList()
	if err != nil {
		return mcpserver.Options{}, err
	}
	return mcpserver.Options{
		Deps:        a.deps(),
		Version:     version,
		ReadOnly:    a.cfg.ReadOnly,
		Allow:       allow,
		CallTimeout: a.cfg.CallTimeout,
		Limiter:     a.limiter,
		Metrics:     a.metrics,
	}, nil
}
