package cli

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Config is the server's configuration. Every field has a flag and a
// MODELGATE_* environment variable; a flag given on the command line wins.
type Config struct {
	Catalog            string
	DefaultRuntime     string
	DefaultModel       string
	Org                string
	DatabaseURL        string
	DataDir            string
	LogLevel           string
	InsecureDevSecrets bool
	CallTimeout        time.Duration
	ReadOnly           bool
	Tools              string
	Transport          string
	Addr               string
	AllowNoAuth        bool
	ShutdownTimeout    time.Duration
	MaxBodyBytes       int64
	RateLimit          float64
	Burst              int
	// Provisioner
	Driver           string
	ExecCommand      string
	WebhookURL       string
	WebhookSecret    string
	MaxAttempts      int
	ProvisionTimeout time.Duration
	NoProvisioner    bool
	// Key entry (CONTRACT.md §7)
	KeyEntry   string
	KeyLinkTTL time.Duration
	PublicURL  string
}

// flagDef is one configuration flag with its environment variable.
type flagDef struct {
	name, env, usage string
	bind             func(fs *flag.FlagSet, c *Config, def string)
	def              string
}

func strFlag(p func(*Config) *string) func(*flag.FlagSet, *Config, string) {
	return func(fs *flag.FlagSet, c *Config, def string) { fs.StringVar(p(c), "", def, "") }
}

// configFlags lists every configuration flag. The order is the --help order.
var configFlags = []flagDef{
	{name: "catalog", env: "MODELGATE_CATALOG", usage: "catalog `file` replacing the embedded default catalog"},
	{name: "default-runtime", env: "MODELGATE_DEFAULT_RUNTIME", usage: "runtime used when a call names none (default: the catalog's)"},
	{name: "default-model", env: "MODELGATE_DEFAULT_MODEL", usage: "platform-billed model recommended when a key is missing (default: the catalog's)"},
	{name: "org", env: "MODELGATE_ORG", def: "default", usage: "org the stdio server and the people's commands act for"},
	{name: "database-url", env: "MODELGATE_DATABASE_URL", usage: "PostgreSQL URL (postgres://…); empty: the embedded store in --data-dir"},
	{name: "data-dir", env: "MODELGATE_DATA_DIR", usage: "directory of the embedded store and its key file (default ~/.local/share/modelgate)"},
	{name: "log-level", env: "MODELGATE_LOG_LEVEL", def: "info", usage: "log level: debug, info, warn, error (logs go to stderr)"},
	{name: "insecure-dev-secrets", env: "MODELGATE_INSECURE_DEV_SECRETS", def: "false", usage: "with PostgreSQL and no MODELGATE_SECRETS_KEY, use a key file in --data-dir (development only)"},
	{name: "call-timeout", env: "MODELGATE_CALL_TIMEOUT", def: "10s", usage: "deadline of each tool call, including its queries"},
	{name: "read-only", env: "MODELGATE_READ_ONLY", def: "false", usage: "serve only the read-only tools"},
	{name: "tools", env: "MODELGATE_TOOLS", usage: "comma-separated allow-list of tools to serve (default: all)"},
	{name: "transport", env: "MODELGATE_TRANSPORT", def: "stdio", usage: "serve: stdio, http (streamable HTTP at /mcp) or sse (/sse and /message)"},
	{name: "addr", env: "MODELGATE_ADDR", def: "127.0.0.1:8080", usage: "serve: listen address for http and sse"},
	{name: "allow-no-auth", env: "MODELGATE_ALLOW_NO_AUTH", def: "false", usage: "serve: accept requests without a token, acting for --org; refused unless --addr is a loopback address"},
	{name: "shutdown-timeout", env: "MODELGATE_SHUTDOWN_TIMEOUT", def: "15s", usage: "serve: how long in-flight calls may finish after SIGTERM/SIGINT"},
	{name: "max-body-bytes", env: "MODELGATE_MAX_BODY_BYTES", def: "1048576", usage: "serve: largest accepted request body (413 beyond)"},
	{name: "rate-limit", env: "MODELGATE_RATE_LIMIT", def: "0", usage: "tool calls per second per org and per token (0: no limit)"},
	{name: "burst", env: "MODELGATE_BURST", def: "20", usage: "burst of the rate limit"},
	{name: "driver", env: "MODELGATE_DRIVER", usage: "provisioner driver: exec or webhook (empty: workspaces wait for a provisioner)"},
	{name: "exec-command", env: "MODELGATE_EXEC_COMMAND", usage: "exec driver: command run (via /bin/sh -c) to start a workspace"},
	{name: "webhook-url", env: "MODELGATE_WEBHOOK_URL", usage: "webhook driver: URL the workspace is POSTed to"},
	{name: "webhook-secret", env: "MODELGATE_WEBHOOK_SECRET", usage: "webhook driver: HMAC-SHA256 signing secret"},
	{name: "max-attempts", env: "MODELGATE_MAX_ATTEMPTS", def: "5", usage: "provisioner: driver attempts before a workspace fails"},
	{name: "provision-timeout", env: "MODELGATE_PROVISION_TIMEOUT", def: "10m", usage: "provisioner: a workspace still provisioning after this fails with PROVISION_TIMEOUT"},
	{name: "no-provisioner", env: "MODELGATE_NO_PROVISIONER", def: "false", usage: "serve: do not run a provisioner inside the server"},
	{name: "key-entry", env: "MODELGATE_KEY_ENTRY", def: "on", usage: "on: a refusal for a missing key carries a one-time link where a person enters the key in a browser; off: no links"},
	{name: "key-link-ttl", env: "MODELGATE_KEY_LINK_TTL", def: "15m", usage: "how long a key entry link stays usable"},
	{name: "public-url", env: "MODELGATE_PUBLIC_URL", usage: "serve: base URL people's browsers reach this server at, for key entry links (default: http://<addr>; stdio: a loopback address)"},
}

// bindConfig registers every configuration flag on fs, with defaults taken
// from the environment. It returns an error naming the variable when an
// environment value does not parse as its flag's type: a bad value must not
// silently become false or 0 (MODELGATE_READ_ONLY=yes serving write tools).
func bindConfig(fs *flag.FlagSet, c *Config, getenv func(string) string) error {
	var errs []error
	for _, f := range configFlags {
		def := f.def
		if v := getenv(f.env); v != "" {
			def = v
		}
		check := func(err error) {
			if err != nil {
				errs = append(errs, fmt.Errorf("$%s: %w", f.env, err))
			}
		}
		parseBool := func(s string) bool {
			b, err := strconv.ParseBool(s)
			check(err)
			return b
		}
		parseDuration := func(s string) time.Duration {
			d, err := time.ParseDuration(s)
			check(err)
			return d
		}
		usage := f.usage + " [$" + f.env + "]"
		switch f.name {
		case "catalog":
			fs.StringVar(&c.Catalog, f.name, def, usage)
		case "default-runtime":
			fs.StringVar(&c.DefaultRuntime, f.name, def, usage)
		case "default-model":
			fs.StringVar(&c.DefaultModel, f.name, def, usage)
		case "org":
			fs.StringVar(&c.Org, f.name, def, usage)
		case "database-url":
			fs.StringVar(&c.DatabaseURL, f.name, def, usage)
		case "data-dir":
			fs.StringVar(&c.DataDir, f.name, def, usage)
		case "log-level":
			fs.StringVar(&c.LogLevel, f.name, def, usage)
		case "insecure-dev-secrets":
			fs.BoolVar(&c.InsecureDevSecrets, f.name, parseBool(def), usage)
		case "call-timeout":
			fs.DurationVar(&c.CallTimeout, f.name, parseDuration(def), usage)
		case "read-only":
			fs.BoolVar(&c.ReadOnly, f.name, parseBool(def), usage)
		case "tools":
			fs.StringVar(&c.Tools, f.name, def, usage)
		case "transport":
			fs.StringVar(&c.Transport, f.name, def, usage)
		case "addr":
			fs.StringVar(&c.Addr, f.name, def, usage)
		case "allow-no-auth":
			fs.BoolVar(&c.AllowNoAuth, f.name, parseBool(def), usage)
		case "shutdown-timeout":
			fs.DurationVar(&c.ShutdownTimeout, f.name, parseDuration(def), usage)
		case "max-body-bytes":
			n, err := strconv.ParseInt(def, 10, 64)
			check(err)
			fs.Int64Var(&c.MaxBodyBytes, f.name, n, usage)
		case "rate-limit":
			x, err := strconv.ParseFloat(def, 64)
			check(err)
			fs.Float64Var(&c.RateLimit, f.name, x, usage)
		case "burst":
			n, err := strconv.Atoi(def)
			check(err)
			fs.IntVar(&c.Burst, f.name, n, usage)
		case "driver":
			fs.StringVar(&c.Driver, f.name, def, usage)
		case "exec-command":
			fs.StringVar(&c.ExecCommand, f.name, def, usage)
		case "webhook-url":
			fs.StringVar(&c.WebhookURL, f.name, def, usage)
		case "webhook-secret":
			fs.StringVar(&c.WebhookSecret, f.name, def, usage)
		case "max-attempts":
			n, err := strconv.Atoi(def)
			check(err)
			fs.IntVar(&c.MaxAttempts, f.name, n, usage)
		case "provision-timeout":
			fs.DurationVar(&c.ProvisionTimeout, f.name, parseDuration(def), usage)
		case "no-provisioner":
			fs.BoolVar(&c.NoProvisioner, f.name, parseBool(def), usage)
		case "key-entry":
			fs.StringVar(&c.KeyEntry, f.name, def, usage)
		case "key-link-ttl":
			fs.DurationVar(&c.KeyLinkTTL, f.name, parseDuration(def), usage)
		case "public-url":
			fs.StringVar(&c.PublicURL, f.name, def, usage)
		default:
			panic("config flag without binding: " + f.name) // programmer error at start-up
		}
	}
	return errors.Join(errs...)
}

// dataDir returns the configured data directory or the user's default one.
func (c *Config) dataDir(getenv func(string) string) (string, error) {
	if c.DataDir != "" {
		return c.DataDir, nil
	}
	if x := getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "modelgate"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no --data-dir and no home directory: %w", err)
	}
	return filepath.Join(home, ".local", "share", "modelgate"), nil
}

// allowList returns the --tools allow-list.
func (c *Config) allowList() []string {
	var out []string
	for _, t := range strings.Split(c.Tools, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}
