// Package cli is the mcp-server command line: the server (serve) and the
// people's commands (models, workspaces, secret, token, catalog check,
// migrate, provisioner, audit). cmd/mcp-server only calls Main, so every
// command is tested in process.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// Version is the server version reported at initialize.
var Version = "0.1.0"

// Env is what a command runs with; tests replace every part.
type Env struct {
	Args   []string // without the program name
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env Env, args []string) error
}

var commands []command

func init() {
	commands = []command{
		{"serve", "serve MCP (default: stdio; --transport http|sse for the network)", runServe},
		{"models", "print the models a runtime offers (as list_offered_models), --json for scripts", runModels},
		{"workspaces", "print the org's workspaces, --json for scripts", runWorkspaces},
		{"secret", "org secrets: set KEY (value on stdin), list, delete KEY, rotate-key", runSecret},
		{"token", "org tokens of the network transports: create --org ORG [--name N] [--read-only], list, revoke PREFIX", runToken},
		{"catalog", "catalog check FILE: load a catalog and print what it holds", runCatalog},
		{"migrate", "apply the database migrations and print the schema version", runMigrate},
		{"audit", "print the gate decisions of provision_workspace: [--org ORG] [--since 24h|TIME] [--json]", runAudit},
		{"provisioner", "run a provisioner alone (--driver exec|webhook); --once: handle what is claimable now, then exit", runProvisioner},
	}
}

// errUsage is returned when a command line is wrong; the message was printed.
var errUsage = errors.New("usage")

// Main runs the command line and returns the process exit code.
func Main(env Env) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := dispatch(ctx, env)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintf(env.Stderr, "mcp-server: %v\n", err)
		return 1
	}
}

func dispatch(ctx context.Context, env Env) error {
	args := env.Args
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			usage(env.Stdout)
			return nil
		}
		return runServe(ctx, env, args) // no command: serve stdio
	}
	if args[0] == "help" {
		usage(env.Stdout)
		return nil
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, env, args[1:])
		}
	}
	fmt.Fprintf(env.Stderr, "mcp-server: unknown command %q\n\n", args[0])
	usage(env.Stderr)
	return errUsage
}

func usage(w io.Writer) {
	fmt.Fprint(w, `mcp-server — modelgate, the MCP server that provisions agent workspaces that really start.

Usage:
  mcp-server                      serve MCP on stdio (same as: mcp-server serve)
  mcp-server COMMAND [flags] [args]

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nFlags (every command; each has an environment variable, a flag wins):\n")
	fs := flag.NewFlagSet("mcp-server", flag.ContinueOnError)
	var c Config
	bindConfig(fs, &c, func(string) string { return "" }) // the defaults parse
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprint(w, `
Secrets: MODELGATE_SECRETS_KEY (base64 of 32 bytes) seals secret values; MODELGATE_SECRETS_PREVIOUS_KEYS
(comma-separated) still opens values sealed before a rotation. With the embedded store and no key, a key
file is created in the data dir (mode 0600).
`)
}

// parseFlags parses the configuration flags plus the command's own (extra
// may register them) and returns the positional arguments.
func parseFlags(env Env, name string, args []string, extra func(fs *flag.FlagSet)) (*Config, []string, error) {
	fs := flag.NewFlagSet("mcp-server "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	cfg := &Config{}
	if err := bindConfig(fs, cfg, env.Getenv); err != nil {
		return nil, nil, err
	}
	if extra != nil {
		extra(fs)
	}
	// Allow flags after positional arguments (mcp-server secret set KEY --org x).
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, nil, err
			}
			return nil, nil, errUsage
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	return cfg, positional, nil
}

// openFromFlags builds the logger and opens the app.
func openFromFlags(ctx context.Context, env Env, cfg *Config) (*app, error) {
	log, err := newLogger(cfg, env.Stderr)
	if err != nil {
		return nil, err
	}
	return openApp(ctx, cfg, log, env.Getenv)
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
