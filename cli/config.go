package cli

import (
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/mcpserver"
	"github.com/modelgate/modelgate/tools"
	"github.com/rs/zerolog"
)

// Config is the server's configuration. Every field is a setting of the
// settings table below: a flag and a MODELGATE_* environment variable, and
// a flag given on the command line wins.
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
	// Per-org limits (0: none)
	MaxWorkspacesPerOrg int
	MaxOrgSecrets       int
	// Metrics serves GET /metrics; unset means on for a loopback --addr
	// and off otherwise (see metricsEnabled).
	Metrics          optionalBool
	MetricsOrgLabels bool
	TLSCert          string
	TLSKey           string
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
	// Key entry (CONTRACT.md §7)
	KeyEntry   string
	KeyLinkTTL time.Duration
	PublicURL  string
}

// baseURLs is the --verify-base-url setting: PROVIDER=URL pairs. The flag
// is repeatable and MODELGATE_VERIFY_BASE_URLS holds "provider=url,
// provider=url"; each pair adds to the list, and a flag given on the
// command line (set after the environment) wins for its provider.
type baseURLs struct{ m map[string]string }

// String returns the pairs, sorted, joined by commas.
func (b *baseURLs) String() string {
	if b == nil {
		return ""
	}
	parts := make([]string, 0, len(b.m))
	for k, v := range b.m {
		parts = append(parts, k+"="+v)
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// Set adds the comma-separated PROVIDER=URL pairs of v; it returns an
// error for any other shape.
func (b *baseURLs) Set(v string) error {
	for part := range strings.SplitSeq(v, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		provider, u, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || provider == "" || u == "" {
			return fmt.Errorf("want PROVIDER=URL, got %q", part)
		}
		if b.m == nil {
			b.m = map[string]string{}
		}
		b.m[provider] = u
	}
	return nil
}

// Get returns the pairs as a map (flag.Getter).
func (b *baseURLs) Get() any { return b.m }

// setting is one configuration setting: a flag and its environment
// variable, or an environment variable alone (name ""). The table of
// settings is the one place a setting is declared: it drives parsing, the
// help of each command and the README's configuration table.
type setting struct {
	name  string // flag name without dashes; "" for an environment variable alone
	env   string // MODELGATE_* variable
	arg   string // what the value is, in help: FILE, URL, DURATION; "" for a boolean
	def   string // default as the flag parses it
	doc   string // default as the docs show it, when def alone would not say it
	usage string // one line, no trailing period
	// secret marks a value that is a credential: it may be given as the
	// contents of the file $env_FILE, and a warning is logged when it is
	// given on the command line, where the process list shows it.
	secret bool
	// field points at the Config field the setting fills; nil for an
	// environment variable that another package reads (the secrets keys).
	field func(*Config) any
}

// key names a setting in a command's list of the settings it uses.
func (s setting) key() string {
	if s.name != "" {
		return s.name
	}
	return s.env
}

// settings is every configuration setting, in help order. To add one: a
// Config field, a row here whose field returns a pointer to it (a string,
// bool, int, int64, float64, time.Duration or a flag.Value of its own), and
// its key in the uses of the commands that read it (a group below, or a
// command's list in cli.go). Help, `help config --markdown` and the README
// table (regenerate it; a test compares) follow.
var settings = []setting{
	{name: "org", env: "MODELGATE_ORG", arg: "ORG", def: modelgate.DefaultOrg, usage: "org the stdio server and the people's commands act for: 1 to 63 of a-z, 0-9, '.', '_', '-'", field: func(c *Config) any { return &c.Org }},
	{name: "catalog", env: "MODELGATE_CATALOG", arg: "FILE", doc: "embedded", usage: "catalog file replacing the embedded default catalog", field: func(c *Config) any { return &c.Catalog }},
	{name: "default-runtime", env: "MODELGATE_DEFAULT_RUNTIME", arg: "RUNTIME", doc: "the catalog's", usage: "runtime used when a call names none", field: func(c *Config) any { return &c.DefaultRuntime }},
	{name: "default-model", env: "MODELGATE_DEFAULT_MODEL", arg: "MODEL", doc: "the catalog's", usage: "platform-billed model recommended when a key is missing", field: func(c *Config) any { return &c.DefaultModel }},
	{name: "database-url", env: "MODELGATE_DATABASE_URL", arg: "URL", doc: "the embedded store", secret: true, usage: "PostgreSQL URL (postgres://...); empty: the embedded store in --data-dir", field: func(c *Config) any { return &c.DatabaseURL }},
	{name: "data-dir", env: "MODELGATE_DATA_DIR", arg: "DIR", doc: "~/.local/share/modelgate", usage: "directory of the embedded store and its key file", field: func(c *Config) any { return &c.DataDir }},
	{env: "MODELGATE_SECRETS_KEY", doc: "a key file in --data-dir (embedded store)", secret: true, usage: "base64 of 32 bytes sealing secret values; required with PostgreSQL"},
	{env: "MODELGATE_SECRETS_PREVIOUS_KEYS", secret: true, usage: "old keys, comma-separated, still opening values sealed before a rotation"},
	{name: "insecure-dev-secrets", env: "MODELGATE_INSECURE_DEV_SECRETS", def: "false", usage: "with PostgreSQL and no MODELGATE_SECRETS_KEY, use a key file in --data-dir (development only)", field: func(c *Config) any { return &c.InsecureDevSecrets }},
	{name: "log-level", env: "MODELGATE_LOG_LEVEL", arg: "LEVEL", doc: "info for serve and provisioner, warn for the other commands", usage: "debug, info, warn or error; logs go to stderr (JSON, or text for people at a terminal)", field: func(c *Config) any { return &c.LogLevel }},
	{name: "call-timeout", env: "MODELGATE_CALL_TIMEOUT", arg: "DURATION", def: "10s", usage: "deadline of each tool call, including its queries", field: func(c *Config) any { return &c.CallTimeout }},
	{name: "read-only", env: "MODELGATE_READ_ONLY", def: "false", usage: "serve only the read-only tools (token create: make a read-only token)", field: func(c *Config) any { return &c.ReadOnly }},
	{name: "tools", env: "MODELGATE_TOOLS", arg: "LIST", doc: "all", usage: "comma-separated allow-list of the tools to serve", field: func(c *Config) any { return &c.Tools }},
	{name: "transport", env: "MODELGATE_TRANSPORT", arg: "NAME", def: "stdio", usage: "stdio, http (streamable HTTP at /mcp) or sse (/sse and /message)", field: func(c *Config) any { return &c.Transport }},
	{name: "addr", env: "MODELGATE_ADDR", arg: "HOST:PORT", def: "127.0.0.1:8080", usage: "listen address of http and sse", field: func(c *Config) any { return &c.Addr }},
	{name: "allow-no-auth", env: "MODELGATE_ALLOW_NO_AUTH", def: "false", usage: "accept requests without a token, acting for --org; refused unless --addr is a loopback address", field: func(c *Config) any { return &c.AllowNoAuth }},
	{name: "shutdown-timeout", env: "MODELGATE_SHUTDOWN_TIMEOUT", arg: "DURATION", def: "15s", usage: "how long in-flight calls may finish after SIGTERM/SIGINT", field: func(c *Config) any { return &c.ShutdownTimeout }},
	{name: "max-body-bytes", env: "MODELGATE_MAX_BODY_BYTES", arg: "N", def: "1048576", usage: "largest accepted request body (413 beyond)", field: func(c *Config) any { return &c.MaxBodyBytes }},
	{name: "rate-limit", env: "MODELGATE_RATE_LIMIT", arg: "N", def: "0", usage: "tool calls per second per org and per token (0: no limit; 429 / RATE_LIMITED beyond)", field: func(c *Config) any { return &c.RateLimit }},
	{name: "burst", env: "MODELGATE_BURST", arg: "N", def: "20", usage: "burst of the rate limit", field: func(c *Config) any { return &c.Burst }},
	{name: "max-workspaces-per-org", env: "MODELGATE_MAX_WORKSPACES_PER_ORG", arg: "N", def: "1000", usage: "most live (not removed) workspaces of one org; more are refused with WORKSPACE_LIMIT_REACHED (0: no limit)", field: func(c *Config) any { return &c.MaxWorkspacesPerOrg }},
	{name: "max-org-secrets", env: "MODELGATE_MAX_ORG_SECRETS", arg: "N", def: "100", usage: "most org secrets of one org; a new name beyond is refused with WORKSPACE_LIMIT_REACHED, replacing one is allowed (0: no limit)", field: func(c *Config) any { return &c.MaxOrgSecrets }},
	{name: "metrics", env: "MODELGATE_METRICS", doc: "on for a loopback --addr, off otherwise", usage: "serve GET /metrics in the Prometheus format, without a token", field: func(c *Config) any { return &c.Metrics }},
	{name: "metrics-org-labels", env: "MODELGATE_METRICS_ORG_LABELS", def: "false", usage: "label per-call metrics with the org name (org names may be customers' names)", field: func(c *Config) any { return &c.MetricsOrgLabels }},
	{name: "tls-cert", env: "MODELGATE_TLS_CERT", arg: "FILE", usage: "PEM certificate (chain) for HTTPS; re-read on SIGHUP", field: func(c *Config) any { return &c.TLSCert }},
	{name: "tls-key", env: "MODELGATE_TLS_KEY", arg: "FILE", usage: "PEM private key for HTTPS; re-read on SIGHUP", field: func(c *Config) any { return &c.TLSKey }},
	{name: "key-entry", env: "MODELGATE_KEY_ENTRY", arg: "on|off", def: "on", usage: "on: a refusal for a missing key carries a one-time link where a person enters the key in a browser; off: no links", field: func(c *Config) any { return &c.KeyEntry }},
	{name: "key-link-ttl", env: "MODELGATE_KEY_LINK_TTL", arg: "DURATION", def: "15m", usage: "how long a key entry link stays usable", field: func(c *Config) any { return &c.KeyLinkTTL }},
	{name: "public-url", env: "MODELGATE_PUBLIC_URL", arg: "URL", doc: "http(s)://<addr>; stdio: a loopback address", usage: "base URL people's browsers reach this server at, for key entry links", field: func(c *Config) any { return &c.PublicURL }},
	{name: "driver", env: "MODELGATE_DRIVER", arg: "NAME", doc: "none", usage: "provisioner driver: exec or webhook (none: workspaces wait for a provisioner)", field: func(c *Config) any { return &c.Driver }},
	{name: "exec-command", env: "MODELGATE_EXEC_COMMAND", arg: "CMD", usage: "exec driver: command run (via /bin/sh -c) to start a workspace", field: func(c *Config) any { return &c.ExecCommand }},
	{name: "webhook-url", env: "MODELGATE_WEBHOOK_URL", arg: "URL", usage: "webhook driver: URL the workspace is POSTed to", field: func(c *Config) any { return &c.WebhookURL }},
	{name: "webhook-secret", env: "MODELGATE_WEBHOOK_SECRET", arg: "SECRET", secret: true, usage: "webhook driver: HMAC-SHA256 signing secret", field: func(c *Config) any { return &c.WebhookSecret }},
	{name: "max-attempts", env: "MODELGATE_MAX_ATTEMPTS", arg: "N", def: "5", usage: "provisioner: driver attempts before a workspace fails", field: func(c *Config) any { return &c.MaxAttempts }},
	{name: "provision-timeout", env: "MODELGATE_PROVISION_TIMEOUT", arg: "DURATION", def: "10m", usage: "provisioner: a workspace still provisioning after this fails with PROVISION_TIMEOUT", field: func(c *Config) any { return &c.ProvisionTimeout }},
	{name: "no-provisioner", env: "MODELGATE_NO_PROVISIONER", def: "false", usage: "serve without the in-process provisioner (run mcp-server provisioner elsewhere)", field: func(c *Config) any { return &c.NoProvisioner }},
	{name: "verify-credentials", env: "MODELGATE_VERIFY_CREDENTIALS", arg: "on|off", def: "on", usage: "ask the provider whether a key is good when it is stored and before a workspace starts; off sends nothing anywhere (docs/credential-checks.md)", field: func(c *Config) any { return &c.VerifyCredentials }},
	{name: "verify-timeout", env: "MODELGATE_VERIFY_TIMEOUT", arg: "DURATION", def: "5s", usage: "bound of one credential check; a key without an answer is stored unchecked, never refused", field: func(c *Config) any { return &c.VerifyTimeout }},
	{name: "verify-max-age", env: "MODELGATE_VERIFY_MAX_AGE", arg: "DURATION", def: "1h", usage: "provisioner: re-check a key whose last check is older than this before starting a workspace", field: func(c *Config) any { return &c.VerifyMaxAge }},
	{name: "verify-base-url", env: "MODELGATE_VERIFY_BASE_URLS", arg: "PROVIDER=URL", doc: "the catalog's", usage: "send PROVIDER's credential check to URL (https; plain http only to loopback); repeatable, the variable takes provider=url,provider=url", field: func(c *Config) any { return &c.VerifyBaseURLs }},
}

// Groups of settings that commands share.
var (
	// storeSettings are read by every command that opens the store.
	storeSettings = []string{"org", "catalog", "default-runtime", "default-model", "database-url", "data-dir",
		"MODELGATE_SECRETS_KEY", "MODELGATE_SECRETS_PREVIOUS_KEYS", "insecure-dev-secrets", "log-level",
		"max-workspaces-per-org", "max-org-secrets"}
	// driverSettings configure a provisioner.
	driverSettings = []string{"driver", "exec-command", "webhook-url", "webhook-secret", "max-attempts", "provision-timeout", "verify-max-age"}
	// verifySettings configure the live credential checks of every command
	// that stores a secret or starts a workspace.
	verifySettings = []string{"verify-credentials", "verify-timeout", "verify-base-url"}
	// serveSettings are serve's own.
	serveSettings = []string{"transport", "addr", "allow-no-auth", "call-timeout", "read-only", "tools",
		"shutdown-timeout", "max-body-bytes", "rate-limit", "burst", "no-provisioner", "metrics", "metrics-org-labels", "tls-cert", "tls-key", "key-entry", "key-link-ttl", "public-url"}
)

func join(groups ...[]string) []string {
	var out []string
	for _, g := range groups {
		out = append(out, g...)
	}
	return out
}

// settingByKey returns the setting named key (a flag name, or the variable
// of a setting without a flag).
func settingByKey(key string) (setting, bool) {
	for _, s := range settings {
		if s.key() == key {
			return s, true
		}
	}
	return setting{}, false
}

// readEnv returns the value of s's environment variable. For a secret
// setting, $env_FILE names a file holding the value (one trailing newline
// is dropped); giving both is an error, as is an empty or unreadable file.
// Errors name the variable and the file, never the value.
func readEnv(s setting, getenv func(string) string) (string, error) {
	v := getenv(s.env)
	if !s.secret {
		return v, nil
	}
	file := getenv(s.env + "_FILE")
	if file == "" {
		return v, nil
	}
	if v != "" {
		return "", fmt.Errorf("$%s and $%s_FILE are both set; set one", s.env, s.env)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("$%s_FILE: %w", s.env, err)
	}
	v = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if strings.TrimSpace(v) == "" {
		return "", fmt.Errorf("$%s_FILE: %s is empty", s.env, file)
	}
	return v, nil
}

// resolvedEnv returns getenv with the $env_FILE of every secret setting
// among uses read in: the packages that read a variable themselves
// (secrets.KeyringFromEnv) then see the file's contents under the plain
// name.
func resolvedEnv(getenv func(string) string, uses []string) (func(string) string, error) {
	values := map[string]string{}
	var errs []error
	for _, key := range uses {
		s, ok := settingByKey(key)
		if !ok || !s.secret {
			continue
		}
		v, err := readEnv(s, getenv)
		if err != nil {
			errs = append(errs, err)
		}
		values[s.env] = v
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return func(k string) string {
		if v, ok := values[k]; ok {
			return v
		}
		return getenv(k)
	}, nil
}

// bindSettings registers the flags of the settings named by keys on fs,
// each with its default, then overridden by its environment variable
// (getenv has the *_FILE variants resolved). It returns an error naming the
// variable when an environment value does not parse as its flag's type: a
// bad value must not silently become false or 0 (MODELGATE_READ_ONLY=yes
// serving write tools).
func bindSettings(fs *flag.FlagSet, c *Config, keys []string, getenv func(string) string) error {
	var errs []error
	for _, key := range keys {
		s, ok := settingByKey(key)
		if !ok {
			panic("cli: a command uses an undeclared setting " + key) // programmer error at start-up
		}
		if s.field == nil {
			continue // an environment variable alone
		}
		bindFlag(fs, s.name, s.usage, s.field(c))
		f := fs.Lookup(s.name)
		if s.def != "" {
			if err := f.Value.Set(s.def); err != nil {
				panic(fmt.Sprintf("cli: default of --%s: %v", s.name, err)) // programmer error
			}
			f.DefValue = s.def
		}
		if v := getenv(s.env); v != "" {
			// Value.Set, not fs.Set: the flag stays unset, so Visit
			// reports only what the command line gave.
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("$%s: %q is not a valid %s", s.env, v, kind(f)))
			}
		}
	}
	return errors.Join(errs...)
}

// bindFlag registers a flag of p's type with its zero value as default.
func bindFlag(fs *flag.FlagSet, name, usage string, p any) {
	switch p := p.(type) {
	case *string:
		fs.StringVar(p, name, "", usage)
	case *bool:
		fs.BoolVar(p, name, false, usage)
	case *int:
		fs.IntVar(p, name, 0, usage)
	case *int64:
		fs.Int64Var(p, name, 0, usage)
	case *float64:
		fs.Float64Var(p, name, 0, usage)
	case *time.Duration:
		fs.DurationVar(p, name, 0, usage)
	case flag.Value: // a type of its own (a list, an optional boolean)
		fs.Var(p, name, usage)
	default:
		panic(fmt.Sprintf("cli: flag --%s of unsupported type %T", name, p)) // programmer error
	}
}

// kind names what a flag's value must be, for error messages.
func kind(f *flag.Flag) string {
	switch f.Value.(flag.Getter).Get().(type) {
	case bool:
		return "boolean (true or false)"
	case time.Duration:
		return "duration (such as 30s or 10m)"
	case int, int64:
		return "whole number"
	case float64:
		return "number"
	}
	return "value"
}

// check validates the settings that have a grammar of their own, among the
// ones a command uses.
func (c *Config) check(uses []string) error {
	var errs []error
	for _, key := range uses {
		switch key {
		case "org":
			if err := modelgate.ValidateOrg(c.Org); err != nil {
				errs = append(errs, fmt.Errorf("--org (MODELGATE_ORG): %s", modelgate.ErrorMessage(err)))
			}
		case "tools":
			if _, err := c.allowList(); err != nil {
				errs = append(errs, err)
			}
		case "verify-credentials":
			if v := strings.ToLower(c.VerifyCredentials); v != "on" && v != "off" {
				errs = append(errs, fmt.Errorf("--verify-credentials (MODELGATE_VERIFY_CREDENTIALS): want on or off, got %q", c.VerifyCredentials))
			}
		case "log-level":
			if c.LogLevel != "" {
				if _, err := zerolog.ParseLevel(strings.ToLower(c.LogLevel)); err != nil {
					errs = append(errs, fmt.Errorf("--log-level (MODELGATE_LOG_LEVEL): unknown level %q (debug, info, warn, error)", c.LogLevel))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// allowList returns the --tools allow-list; nil means every tool. A list
// that is set but names no tool (" , ") is an error: read as "no
// allow-list" it would serve every tool, failing open.
func (c *Config) allowList() ([]string, error) {
	var out []string
	for _, t := range strings.Split(c.Tools, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	if c.Tools != "" && len(out) == 0 {
		return nil, fmt.Errorf("--tools (MODELGATE_TOOLS): %q names no tool; name the tools to serve, comma-separated, or unset it to serve every tool", c.Tools)
	}
	if len(out) == 0 {
		return nil, nil // every tool; no need to build them here
	}
	var known []string
	for _, t := range tools.All(tools.Deps{}) {
		known = append(known, t.Tool.Name)
	}
	for _, name := range out {
		if !slices.Contains(known, name) {
			msg := fmt.Sprintf("--tools (MODELGATE_TOOLS): unknown tool %q", name)
			if near := nearest(name, known); near != "" {
				msg += fmt.Sprintf("; did you mean %q?", near)
			}
			return nil, fmt.Errorf("%s (the tools: %s)", msg, strings.Join(known, ", "))
		}
	}
	return out, nil
}

// secretOnCommandLine returns a warning for a secret setting given as a
// flag, where every user of the machine can read it in the process list;
// "" when the value holds no secret (a database URL without a password).
func secretOnCommandLine(s setting, value string) string {
	if !s.secret || s.name == "" {
		return ""
	}
	if s.name == "database-url" && !urlHasPassword(value) {
		return ""
	}
	return fmt.Sprintf("--%s on the command line is visible to other users in the process list; set $%s or $%s_FILE instead", s.name, s.env, s.env)
}

// urlHasPassword reports whether a PostgreSQL URL or keyword/value string
// carries a password.
func urlHasPassword(dsn string) bool {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		_, ok := u.User.Password()
		return ok || u.Query().Has("password")
	}
	return strings.Contains(dsn, "password=")
}

// optionalBool is a boolean flag that remembers whether it was given, so
// that its default can depend on other flags (--metrics on --addr).
type optionalBool struct{ set, value bool }

// String returns the value, or "" when it was not given.
func (b *optionalBool) String() string {
	if b == nil || !b.set {
		return ""
	}
	return strconv.FormatBool(b.value)
}

// Set parses a boolean; it returns strconv's error for anything else.
func (b *optionalBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	b.set, b.value = true, v
	return nil
}

// IsBoolFlag lets the flag be given alone (--metrics).
func (b *optionalBool) IsBoolFlag() bool { return true }

// Get returns the value (flag.Getter); false when it was not given.
func (b *optionalBool) Get() any { return b.value }

// metricsEnabled reports whether serve exposes GET /metrics: as given, or
// by default only on a loopback listener, where whoever can scrape it can
// already reach the server. On a public listener it stays off unless asked
// for, as /metrics needs no token.
func (c *Config) metricsEnabled() bool {
	if c.Transport == "stdio" {
		return false
	}
	if c.Metrics.set {
		return c.Metrics.value
	}
	return mcpserver.IsLoopbackAddr(c.Addr)
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
