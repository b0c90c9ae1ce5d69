// Package cli is the mcp-server command line: the server (serve) and the
// people's commands (models, workspaces, secret, token, catalog check,
// migrate, provisioner, audit). cmd/mcp-server only calls Main, so every
// command is tested in process.
//
// Two tables drive it. The settings table (config.go) declares every
// configuration flag with its MODELGATE_* variable, once: parsing, each
// command's help and the README's configuration table come from it. The
// command table (commands below) declares each command with the settings it
// uses and a setup function that registers its own flags and returns what
// it runs; help is generated from the same declarations (help.go), and the
// parser (parse.go) turns every mistake into one line and exit status 2.
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

// command is one command or, with subs, a group of subcommands.
type command struct {
	name    string
	summary string   // one line: what it does
	args    string   // its positional arguments, for the usage line ("KEY")
	nargs   int      // how many positional arguments it takes
	uses    []string // the settings it reads, by key (see settings)
	// daemon marks a long-running command (serve, provisioner): it logs
	// JSON at info; the people's commands log at warn, as text at a terminal.
	daemon bool
	subs   []*command
	// setup registers the command's own flags on fs and returns what runs
	// once the command line is parsed.
	setup func(fs *flag.FlagSet) action
}

// action runs a parsed command.
type action func(ctx context.Context, inv *invocation) error

// invocation is one parsed command line.
type invocation struct {
	env  Env
	cmd  *command
	path string // "mcp-server secret list"
	cfg  *Config
	args []string // positional
	// getenv is env.Getenv with the *_FILE variants of secrets read in.
	getenv func(string) string
	// given holds the settings set by a flag or an environment variable.
	given map[string]bool
	// warnings are logged once the logger exists (secrets given as flags).
	warnings []string
	// act is what c.setup returned for the flag set of this command line.
	act action
}

var commands []*command

func init() {
	commands = []*command{
		{name: "serve", summary: "serve MCP on stdio (the default), or on the network with --transport http|sse",
			uses: join(storeSettings, serveSettings, driverSettings, verifySettings), daemon: true, setup: serveSetup},
		{name: "models", summary: "print the models a runtime offers, as list_offered_models does",
			uses: storeSettings, setup: modelsSetup},
		{name: "workspaces", summary: "print the org's workspaces", uses: storeSettings, setup: workspacesSetup},
		{name: "secret", summary: "manage the org's secrets (values are read from stdin, never from the command line)", subs: []*command{
			{name: "set", summary: "set the org secret KEY to the value read from stdin", args: "KEY", nargs: 1, uses: join(storeSettings, verifySettings), setup: secretSetSetup},
			{name: "list", summary: "list the org's secret names and when each was set (never the values)", uses: storeSettings, setup: secretListSetup},
			{name: "delete", summary: "delete the org secret KEY", args: "KEY", nargs: 1, uses: storeSettings, setup: secretDeleteSetup},
			{name: "rotate-key", summary: "re-encrypt every secret under MODELGATE_SECRETS_KEY (the old key in MODELGATE_SECRETS_PREVIOUS_KEYS)", uses: storeSettings, setup: secretRotateSetup},
		}},
		{name: "token", summary: "manage the org tokens of the network transports", subs: []*command{
			{name: "create", summary: "create a token for --org and print it once on stdout", uses: join(storeSettings, []string{"read-only"}), setup: tokenCreateSetup},
			{name: "list", summary: "list the tokens of --org (or of every org with --all); never the secrets", uses: storeSettings, setup: tokenListSetup},
			{name: "revoke", summary: "revoke the token whose prefix is PREFIX (as token list shows it)", args: "PREFIX", nargs: 1, uses: storeSettings, setup: tokenRevokeSetup},
		}},
		{name: "catalog", summary: "work with catalog files", subs: []*command{
			{name: "check", summary: "load the catalog FILE and print what it holds, or what is wrong with it", args: "FILE", nargs: 1, setup: catalogCheckSetup},
		}},
		{name: "migrate", summary: "apply the database migrations and print the schema version", uses: storeSettings, setup: migrateSetup},
		{name: "audit", summary: "print the gate decisions of provision_workspace, oldest first (every org unless --org is given)", uses: storeSettings, setup: auditSetup},
		{name: "provisioner", summary: "run a provisioner alone; with --once, handle what is claimable now and exit",
			uses: join(storeSettings, driverSettings, verifySettings), daemon: true, setup: provisionerSetup},
	}
}

// Main runs the command line and returns the process exit code: 0, 1 when
// a command failed, 2 when the command line is wrong.
func Main(env Env) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := dispatch(ctx, env)
	var usage *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &usage):
		fmt.Fprintln(env.Stderr, err) // one line that starts with the command's path
		return 2
	default:
		fmt.Fprintf(env.Stderr, "mcp-server: %v\n", err)
		return 1
	}
}

// dispatch finds the command the arguments name and runs it.
func dispatch(ctx context.Context, env Env) error {
	args := env.Args
	switch {
	case len(args) == 0 || (isFlag(args[0]) && !isHelp(args[0])):
		return run(ctx, env, findCommand(commands, "serve"), "mcp-server", args) // no command: serve stdio
	case isHelp(args[0]):
		printTopHelp(env.Stdout)
		return nil
	case args[0] == "help":
		return runHelp(env, args[1:])
	}
	c, path, rest, err := resolve(args)
	if err != nil || c == nil {
		return err
	}
	if c.subs != nil {
		if len(rest) > 0 && isHelp(rest[0]) {
			printHelp(env.Stdout, c, path)
			return nil
		}
		return usageErrorf("%s: missing subcommand, one of: %s (%s --help)", path, subNames(c), path)
	}
	return run(ctx, env, c, path, rest)
}

// resolve walks args down the command tree. It returns the command (a
// group when args end, or stop at a help flag, inside one), its path and
// the arguments after it.
func resolve(args []string) (c *command, path string, rest []string, err error) {
	list, path := commands, "mcp-server"
	for len(args) > 0 {
		next := findCommand(list, args[0])
		if next == nil {
			if c != nil && isFlag(args[0]) {
				break // a flag after a group: the caller says what is missing
			}
			return nil, "", nil, unknownCommand(path, args[0], list)
		}
		c, path, args = next, path+" "+next.name, args[1:]
		if c.subs == nil {
			break
		}
		list = c.subs
	}
	return c, path, args, nil
}

func findCommand(list []*command, name string) *command {
	for _, c := range list {
		if c.name == name {
			return c
		}
	}
	return nil
}

func subNames(c *command) string {
	s := ""
	for i, sub := range c.subs {
		if i > 0 {
			s += ", "
		}
		s += sub.name
	}
	return s
}

func isHelp(arg string) bool { return arg == "-h" || arg == "--help" || arg == "-help" }

func isFlag(arg string) bool { return len(arg) > 1 && arg[0] == '-' }

// openFromFlags builds the logger and opens the app.
func openFromFlags(ctx context.Context, inv *invocation) (*app, error) {
	log, err := newLogger(inv.cfg, inv.env.Stderr, inv.cmd.daemon, isTerminal(inv.env.Stderr))
	if err != nil {
		return nil, err
	}
	for _, w := range inv.warnings {
		log.Warn().Msg(w)
	}
	return openApp(ctx, inv.cfg, log, inv.getenv)
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
