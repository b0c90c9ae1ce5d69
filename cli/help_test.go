package cli

import (
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestCLI_HelpOfEveryCommandIsItsOwnAndExitsZero: help, COMMAND --help,
// COMMAND SUB --help and help COMMAND [SUB] print the command's summary,
// its usage and only the flags it uses, on stdout, with exit 0.
func TestCLI_HelpOfEveryCommandIsItsOwnAndExitsZero(t *testing.T) {
	t.Parallel()
	type tc struct {
		args        []string
		want        []string // in stdout
		notWant     []string
		wantSummary string
	}
	cases := []tc{
		{args: []string{"help"}, want: []string{"Usage:", "secret set KEY", "catalog check FILE", "help config"}, notWant: []string{"--webhook-secret"}},
		{args: []string{"--help"}, want: []string{"Usage:", "token create"}, notWant: []string{"--webhook-secret"}},
		{args: []string{"secret", "--help"}, want: []string{"set KEY", "rotate-key"}, notWant: []string{"$MODELGATE_ORG", "--transport"}},
		{args: []string{"token", "--help"}, want: []string{"create", "revoke PREFIX"}, notWant: []string{"$MODELGATE_ORG"}},
		{args: []string{"token", "-h"}, want: []string{"revoke PREFIX"}},
		{args: []string{"catalog", "check", "--help"}, want: []string{"mcp-server catalog check [flags] FILE"}, notWant: []string{"--org", "--data-dir"}},
		{args: []string{"secret", "list", "--help"}, want: []string{"--json", "--org ORG", "$MODELGATE_ORG", "$MODELGATE_SECRETS_KEY_FILE"}, notWant: []string{"--transport", "--webhook-secret", "--driver"}},
		{args: []string{"token", "create", "--help"}, want: []string{"--name", "--read-only", "--org"}, notWant: []string{"--all", "--transport"}},
		{args: []string{"help", "token", "create"}, want: []string{"--name", "--read-only"}, notWant: []string{"--transport"}},
		{args: []string{"models", "--help"}, want: []string{"--runtime RUNTIME", "--json"}, notWant: []string{"--transport", "--call-timeout"}},
		{args: []string{"serve", "--help"}, want: []string{"--transport", "--webhook-secret SECRET", "$MODELGATE_WEBHOOK_SECRET_FILE"}, notWant: []string{"--json"}},
		{args: []string{"provisioner", "--help"}, want: []string{"--once", "--driver"}, notWant: []string{"--transport"}},
		{args: []string{"audit", "--help"}, want: []string{"--since", "--json"}},
		{args: []string{"workspaces", "--status", "online", "--help"}, want: []string{"--status"}},
	}
	for _, c := range commands {
		if c.subs == nil {
			cases = append(cases, tc{args: []string{c.name, "--help"}, wantSummary: c.summary})
		}
		for _, sub := range c.subs {
			cases = append(cases, tc{args: []string{c.name, sub.name, "--help"}, wantSummary: sub.summary})
		}
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			t.Parallel()
			code, out, errOut := runIn(t, t.TempDir(), "", c.args...)
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d, stderr %q; want 0 and nothing on stderr", code, errOut)
			}
			for _, w := range append(c.want, c.wantSummary) {
				if !strings.Contains(out, w) {
					t.Errorf("help does not hold %q:\n%s", w, out)
				}
			}
			for _, w := range c.notWant {
				if strings.Contains(out, w) {
					t.Errorf("help holds %q, a flag of another command:\n%s", w, out)
				}
			}
		})
	}
}

// TestCLI_MistakeIsOneLineWithTheNearestMatchAndExitTwo: an unknown
// command or flag, a missing subcommand or argument, a bad value: one line
// on stderr saying what is wrong (and the nearest name), exit 2, nothing run.
func TestCLI_MistakeIsOneLineWithTheNearestMatchAndExitTwo(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"modles"}, `unknown command "modles"; did you mean "models"?`},
		{[]string{"tokn", "list"}, `did you mean "token"?`},
		{[]string{"secret", "lst"}, `mcp-server secret: unknown command "lst"; did you mean "list"?`},
		{[]string{"secret"}, "missing subcommand, one of: set, list, delete, rotate-key"},
		{[]string{"models", "--jsn"}, "mcp-server models: unknown flag --jsn; did you mean --json?"},
		{[]string{"models", "--run", "codex"}, "did you mean --runtime?"},
		{[]string{"--transprt", "http"}, "did you mean --transport?"},
		{[]string{"models", "--transport", "http"}, "--transport is not a flag of this command"},
		{[]string{"audit", "--zzzzzz"}, "unknown flag --zzzzzz (mcp-server audit --help lists its flags)"},
		{[]string{"audit", "--limit", "many"}, "mcp-server audit: invalid value"},
		{[]string{"token", "list", "--org"}, "flag needs an argument: --org"},
		{[]string{"catalog", "check"}, "mcp-server catalog check takes 1 argument(s): FILE, got 0"},
		{[]string{"secret", "set", "A", "B"}, "mcp-server secret set takes 1 argument(s): KEY, got 2"},
		{[]string{"models", "extra"}, "mcp-server models takes no arguments, got 1"},
		{[]string{"help", "nothing"}, `unknown command "nothing"`},
		{[]string{"models", "--log-level", "loud"}, "unknown level"},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			code, out, errOut := runIn(t, dir, "", c.args...)
			if code != 2 || out != "" {
				t.Fatalf("exit %d, stdout %q; want 2 and nothing on stdout", code, out)
			}
			if strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, c.want) {
				t.Fatalf("stderr %q; want one line holding %q", errOut, c.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Fatalf("a wrong command line opened the store: %v", entries)
			}
		})
	}
}

func TestNearest(t *testing.T) {
	t.Parallel()
	names := []string{"models", "workspaces", "secret", "token", "serve", "json", "runtime"}
	for in, want := range map[string]string{
		"modles": "models", "workspace": "workspaces", "secrets": "secret", "tokn": "token",
		"jsn": "json", "run": "runtime", "xyz": "", "sere": "serve", "completely-else": "",
	} {
		if got := nearest(in, names); got != want {
			t.Errorf("nearest(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestREADME_ConfigurationTableIsGenerated: the README's configuration table
// is exactly what `mcp-server help config --markdown` prints, so the docs
// cannot drift from the settings table. Regenerate it with that command.
func TestREADME_ConfigurationTableIsGenerated(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- BEGIN generated by `mcp-server help config --markdown` -->\n", "<!-- END generated -->"
	_, rest, ok := strings.Cut(string(b), begin)
	table, _, ok2 := strings.Cut(rest, end)
	if !ok || !ok2 {
		t.Fatalf("README.md has no generated configuration table between %q and %q", begin, end)
	}
	code, want, _ := runIn(t, t.TempDir(), "", "help", "config", "--markdown")
	if code != 0 || table != want {
		t.Fatalf("README.md's configuration table differs from `mcp-server help config --markdown`; replace it with:\n%s", want)
	}
	for _, s := range settings {
		if !strings.Contains(table, "`"+s.env+"`") {
			t.Errorf("the table has no row for %s", s.env)
		}
	}
}

// TestCLI_HelpWorksWhateverTheEnvironmentHolds: a malformed variable or a
// missing *_FILE is reported when the command runs, not when its help is
// asked for.
func TestCLI_HelpWorksWhateverTheEnvironmentHolds(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"MODELGATE_READ_ONLY": "yes", "MODELGATE_WEBHOOK_SECRET_FILE": "/nonexistent/secret"}
	if code, out, errOut := runEnv(vars, "", "serve", "--help"); code != 0 || !strings.Contains(out, "--read-only") {
		t.Fatalf("serve --help: %d %q %q", code, out, errOut)
	}
	if code, _, errOut := runEnv(vars, "", "serve"); code != 2 || !strings.Contains(errOut, "MODELGATE_READ_ONLY") || !strings.Contains(errOut, "MODELGATE_WEBHOOK_SECRET_FILE") {
		t.Fatalf("serve: %d %q; want exit 2 naming both variables", code, errOut)
	}
}

// TestSettings_TableIsConsistent: every Config field is filled by exactly
// one setting, names and variables are unique and well-formed, every
// setting is used by some command, and every default parses.
func TestSettings_TableIsConsistent(t *testing.T) {
	t.Parallel()
	var c Config
	fields := map[uintptr]string{}
	v := reflect.ValueOf(&c).Elem()
	for i := range v.NumField() {
		fields[v.Field(i).Addr().Pointer()] = v.Type().Field(i).Name
	}
	seen := map[string]bool{}
	for _, s := range settings {
		if seen[s.key()] || seen[s.env] {
			t.Errorf("setting %s declared twice", s.key())
		}
		seen[s.key()], seen[s.env] = true, true
		if !strings.HasPrefix(s.env, "MODELGATE_") || s.usage == "" {
			t.Errorf("setting %s: variable %q, usage %q", s.key(), s.env, s.usage)
		}
		if usedByText(s) == "" {
			t.Errorf("setting %s is used by no command", s.key())
		}
		if s.field != nil {
			p := reflect.ValueOf(s.field(&c)).Pointer()
			if _, ok := fields[p]; !ok {
				t.Errorf("setting %s fills no Config field, or one another setting fills", s.key())
			}
			delete(fields, p)
		}
	}
	for _, name := range fields {
		t.Errorf("Config.%s has no setting", name)
	}
	all := make([]string, 0, len(settings))
	for _, s := range settings {
		all = append(all, s.key())
	}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	if err := bindSettings(fs, &Config{}, all, func(string) string { return "" }); err != nil { // panics on a bad default
		t.Fatal(err)
	}
}
