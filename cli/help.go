package cli

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// runHelp is `mcp-server help [COMMAND [SUB] | config [--markdown]]`.
func runHelp(env Env, args []string) error {
	if len(args) == 0 {
		printTopHelp(env.Stdout)
		return nil
	}
	if args[0] == "config" {
		switch {
		case len(args) == 1:
			printConfigHelp(env.Stdout)
			return nil
		case len(args) == 2 && args[1] == "--markdown":
			io.WriteString(env.Stdout, configMarkdown())
			return nil
		}
		return usageErrorf("mcp-server help config takes only --markdown")
	}
	c, path, rest, err := resolve(args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageErrorf("mcp-server help: %s has no subcommand %q", path, rest[0])
	}
	printHelp(env.Stdout, c, path)
	return nil
}

// printTopHelp prints what mcp-server is and its commands.
func printTopHelp(w io.Writer) {
	fmt.Fprint(w, `mcp-server - modelgate, the MCP server that provisions agent workspaces that really start.

Usage:
  mcp-server                    serve MCP on stdio (same as: mcp-server serve)
  mcp-server COMMAND [flags] [arguments]

Commands:
`)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range commands {
		if c.subs == nil {
			fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimSpace(c.name+" "+c.args), c.summary)
			continue
		}
		for _, sub := range c.subs {
			fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimSpace(c.name+" "+sub.name+" "+sub.args), sub.summary)
		}
	}
	tw.Flush()
	fmt.Fprint(w, `
Run 'mcp-server COMMAND --help' (or 'mcp-server help COMMAND') for a command's flags,
and 'mcp-server help config' for every setting and its MODELGATE_* environment variable.
`)
}

// printHelp prints a command's summary, usage and its flags alone; for a
// group, its subcommands.
func printHelp(w io.Writer, c *command, path string) {
	fmt.Fprintf(w, "%s\n\nUsage:\n", c.summary)
	if c.subs != nil {
		fmt.Fprintf(w, "  %s COMMAND [flags]\n\nCommands:\n", path)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, sub := range c.subs {
			fmt.Fprintf(tw, "  %s\t%s\n", strings.TrimSpace(sub.name+" "+sub.args), sub.summary)
		}
		tw.Flush()
		fmt.Fprintf(w, "\nRun '%s COMMAND --help' for a command's flags.\n", path)
		return
	}
	fmt.Fprintf(w, "  %s [flags]", path)
	if c.args != "" {
		fmt.Fprintf(w, " %s", c.args)
	}
	fmt.Fprintln(w)

	own := flag.NewFlagSet(path, flag.ContinueOnError)
	c.setup(own)
	var lines [][2]string
	own.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		arg = strings.ToUpper(arg)
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" {
			usage += fmt.Sprintf(" (default %q)", f.DefValue)
		}
		lines = append(lines, [2]string{strings.TrimSpace("--" + f.Name + " " + arg), usage})
	})
	var envOnly [][2]string
	for _, key := range c.uses {
		s, _ := settingByKey(key)
		if s.name == "" {
			envOnly = append(envOnly, [2]string{envNames(s), s.usage + defaultNote(s)})
			continue
		}
		lines = append(lines, [2]string{strings.TrimSpace("--" + s.name + " " + s.arg), s.usage + defaultNote(s) + " [" + envNames(s) + "]"})
	}
	printTable(w, "Flags", lines)
	printTable(w, "Environment", envOnly)
}

func printTable(w io.Writer, title string, lines [][2]string) {
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s:\n", title)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, l := range lines {
		fmt.Fprintf(tw, "  %s\t%s\n", l[0], l[1])
	}
	tw.Flush()
}

// printConfigHelp prints every setting, the commands that use it included.
func printConfigHelp(w io.Writer) {
	fmt.Fprint(w, `Every setting is a flag and a MODELGATE_* environment variable; a flag given on the
command line wins. A secret may also be given as the contents of a file named by the
variable with _FILE appended (one trailing newline is dropped).

`)
	for _, s := range settings {
		name := envNames(s)
		if s.name != "" {
			name = strings.TrimSpace("--"+s.name+" "+s.arg) + "  [" + name + "]"
		}
		fmt.Fprintf(w, "  %s\n      %s%s\n      used by: %s\n", name, s.usage, defaultNote(s), usedByText(s))
	}
}

// configMarkdown is the README's configuration table, generated from the
// settings table (TestREADME_ConfigurationTableIsGenerated keeps them equal).
func configMarkdown() string {
	var b strings.Builder
	b.WriteString("| flag | environment | default | meaning |\n|---|---|---|---|\n")
	for _, s := range settings {
		flagCell := "—"
		if s.name != "" {
			flagCell = "`--" + s.name + "`"
		}
		env := "`" + s.env + "`"
		if s.secret {
			env += ", `" + s.env + "_FILE`"
		}
		def := "—"
		switch {
		case s.doc != "":
			def = s.doc
		case s.def != "":
			def = "`" + s.def + "`"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", flagCell, env, mdEscape(def), mdEscape(s.usage))
	}
	return b.String()
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// envNames is "$X", or "$X or $X_FILE" for a secret.
func envNames(s setting) string {
	if s.secret {
		return "$" + s.env + " or $" + s.env + "_FILE"
	}
	return "$" + s.env
}

func defaultNote(s setting) string {
	switch {
	case s.doc != "":
		return " (default: " + s.doc + ")"
	case s.def != "" && s.def != "false" && s.def != "0":
		if _, isString := s.field(&Config{}).(*string); isString {
			return fmt.Sprintf(" (default %q)", s.def)
		}
		return " (default " + s.def + ")"
	}
	return ""
}

// usedByText names the commands that use setting s, or the ones that do
// not when they are fewer.
func usedByText(s setting) string {
	var users, others []string
	var walk func(prefix string, list []*command)
	walk = func(prefix string, list []*command) {
		for _, c := range list {
			if c.subs != nil {
				walk(prefix+c.name+" ", c.subs)
				continue
			}
			if slices.Contains(c.uses, s.key()) {
				users = append(users, prefix+c.name)
			} else {
				others = append(others, prefix+c.name)
			}
		}
	}
	walk("", commands)
	if len(others) < len(users) {
		return "every command but " + strings.Join(others, ", ")
	}
	return strings.Join(users, ", ")
}
