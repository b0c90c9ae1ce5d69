package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/modelgate/modelgate/internal/editdist"
)

// usageError is a wrong command line: Main prints it as one line and exits 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// run parses the command line of c and runs it.
func run(ctx context.Context, env Env, c *command, path string, args []string) error {
	inv, err := parse(env, c, path, args)
	if errors.Is(err, flag.ErrHelp) {
		printHelp(env.Stdout, c, path)
		return nil
	}
	if err != nil {
		return err
	}
	return inv.act(ctx, inv)
}

// parse binds the settings c uses and its own flags, parses args (flags may
// follow positional arguments: secret set KEY --org x) and checks the
// result. Every error is a usageError; flag.ErrHelp when help was asked.
func parse(env Env, c *command, path string, args []string) (*invocation, error) {
	oneLine := func(err error) error {
		return usageErrorf("%s: %s", path, strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	// An error of the environment is reported after parsing, so that
	// --help works whatever the environment holds.
	getenv, envErr := resolvedEnv(env.Getenv, c.uses)
	if envErr != nil {
		getenv = env.Getenv
	}
	fs := flag.NewFlagSet(path, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	inv := &invocation{env: env, cmd: c, path: path, cfg: &Config{}, getenv: getenv, given: map[string]bool{}}
	envErr = errors.Join(envErr, bindSettings(fs, inv.cfg, c.uses, getenv))
	inv.act = c.setup(fs)
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, flagError(path, fs, err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			positional = append(positional, rest...) // after --, nothing is a flag
			break
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	if envErr != nil {
		return nil, oneLine(envErr)
	}
	if len(positional) != c.nargs {
		// The arguments are not repeated: a misplaced secret value may be
		// among them.
		want := "no arguments"
		if c.nargs > 0 {
			want = fmt.Sprintf("%d argument(s): %s", c.nargs, c.args)
		}
		return nil, usageErrorf("%s takes %s, got %d (%s --help)", path, want, len(positional), path)
	}
	inv.args = positional
	if err := inv.cfg.check(c.uses); err != nil {
		return nil, oneLine(err)
	}
	for _, key := range c.uses {
		if s, _ := settingByKey(key); s.env != "" && getenv(s.env) != "" {
			inv.given[key] = true
		}
	}
	fs.Visit(func(f *flag.Flag) {
		inv.given[f.Name] = true
		if s, ok := settingByKey(f.Name); ok {
			if w := secretOnCommandLine(s, f.Value.String()); w != "" {
				inv.warnings = append(inv.warnings, w)
			}
		}
	})
	return inv, nil
}

// flagError turns an error of the flag package into one line that says
// what is wrong and, for an unknown flag, the nearest one.
func flagError(path string, fs *flag.FlagSet, err error) error {
	const undefined = "flag provided but not defined: -"
	msg := err.Error()
	name, ok := strings.CutPrefix(msg, undefined)
	if !ok {
		// "flag needs an argument: -org", "invalid value ... for flag -limit: ..."
		return usageErrorf("%s: %s", path, strings.ReplaceAll(msg, " -", " --"))
	}
	if s, ok := settingByKey(name); ok && s.name != "" {
		return usageErrorf("%s: --%s is not a flag of this command (%s --help lists its flags)", path, name, path)
	}
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	if near := nearest(name, names); near != "" {
		return usageErrorf("%s: unknown flag --%s; did you mean --%s?", path, name, near)
	}
	return usageErrorf("%s: unknown flag --%s (%s --help lists its flags)", path, name, path)
}

// unknownCommand is the one-line error for a command name that does not
// exist, with the nearest one.
func unknownCommand(path, name string, list []*command) error {
	names := make([]string, len(list))
	for i, c := range list {
		names[i] = c.name
	}
	if isFlag(name) {
		return usageErrorf("%s: missing command before %s (%s --help)", path, name, path)
	}
	if near := nearest(name, names); near != "" {
		return usageErrorf("%s: unknown command %q; did you mean %q?", path, name, near)
	}
	return usageErrorf("%s: unknown command %q; one of: %s", path, name, strings.Join(names, ", "))
}

// nearest returns the candidate closest to s by edit distance, or "" when
// none is close: within a third of the longer name, and at most 3 edits
// (one edit for names of up to three characters).
func nearest(s string, candidates []string) string {
	best, bestD := "", 0
	for _, c := range candidates {
		d := editdist.Strings(s, c)
		limit := min(3, max(1, max(len(s), len(c))/3))
		if strings.HasPrefix(c, s) && len(s) >= 3 {
			d = 1 // a prefix of the name: --run for --runtime
		}
		if d <= limit && (best == "" || d < bestD) {
			best, bestD = c, d
		}
	}
	return best
}
