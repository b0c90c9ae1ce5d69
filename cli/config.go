package cli

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
	// Live credential checks (CONTRACT.md §8)
	VerifyCredentials string
	VerifyTimeout     time.Duration
	VerifyMaxAge      time.Duration
	VerifyBaseURLs    baseURLs
}

// baseURLs is the repeatable --verify-base-url PROVIDER=URL flag, whose
// default comes from MODELGATE_VERIFY_BASE_URLS ("provider=url,provider=url").
// Flags given on the command line replace the environment's list.
type baseURLs struct {
	m       map[string]string
	fromEnv bool
}

// String returns the list as provider=url pairs joined by commas.
func (b *baseURLs) String() string {
	if b == nil {
		return ""
	}
	var parts []string
	for k, v := range b.m {
		parts = append(parts, k+"="+v)
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// Set adds one PROVIDER=URL pair; it returns an error for any other shape.
func (b *baseURLs) Set(v string) error {
	if b.fromEnv || b.m == nil {
		b.m, b.fromEnv = map[string]string{}, false
	}
	return b.add(v)
}

func (b *baseURLs) add(v string) error {
	provider, url, ok := strings.Cut(strings.TrimSpace(v), "=")
	if !ok || provider == "" || url == "" {
		return fmt.Errorf("want PROVIDER=URL, got %q", v)
	}
	if b.m == nil {
		b.m = map[string]string{}
	}
	b.m[provider] = url
	return nil
}

// parseBaseURLs parses the environment form "provider=url,provider=url".
func parseBaseURLs(s string) (baseURLs, error) {
	b := baseURLs{fromEnv: true}
	for part := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		if err := b.add(part); err != nil {
			return b, err
		}
	}
	return b, nil
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
	{name: "verify-credentials", env: "MODELGATE_VERIFY_CREDENTIALS", def: "on", usage: "check keys with their provider when stored and before a workspace starts: on or off (off sends nothing anywhere)"},
	{name: "verify-timeout", env: "MODELGATE_VERIFY_TIMEOUT", def: "5s", usage: "bound of one credential check; a key without an answer is stored unchecked"},
	{name: "verify-max-age", env: "MODELGATE_VERIFY_MAX_AGE", def: "1h", usage: "provisioner: re-check a key whose last check is older than this before starting a workspace"},
	{name: "verify-base-url", env: "MODELGATE_VERIFY_BASE_URLS", usage: "`PROVIDER=URL`: send PROVIDER's credential check to URL instead of the catalog's (repeatable; the environment takes provider=url,provider=url)"},
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
		case "verify-credentials":
			fs.StringVar(&c.VerifyCredentials, f.name, def, usage)
		case "verify-timeout":
			fs.DurationVar(&c.VerifyTimeout, f.name, parseDuration(def), usage)
		case "verify-max-age":
			fs.DurationVar(&c.VerifyMaxAge, f.name, parseDuration(def), usage)
		case "verify-base-url":
			b, err := parseBaseURLs(def)
			check(err)
			c.VerifyBaseURLs = b
			fs.Var(&c.VerifyBaseURLs, f.name, usage)
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
