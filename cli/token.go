package cli

import (
	"context"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/auth"
)

// runToken manages the org tokens of the network transports. A token is
// printed once, by create, on stdout alone (so `TOKEN=$(mcp-server token
// create --org acme)` works); the store keeps only its hash, so a lost token
// is revoked and replaced, never recovered.
func runToken(ctx context.Context, env Env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(env.Stderr, `usage: mcp-server token create --org ORG [--name NAME] [--read-only]
       mcp-server token list [--org ORG | --all] [--json]
       mcp-server token revoke PREFIX`)
		return errUsage
	}
	sub := args[0]
	var name string
	var all, asJSON bool
	cfg, rest, err := parseFlags(env, "token "+sub, args[1:], func(fs *flag.FlagSet) {
		switch sub {
		case "create":
			fs.StringVar(&name, "name", "", "label of the token, shown by token list")
		case "list":
			fs.BoolVar(&all, "all", false, "list the tokens of every org")
			fs.BoolVar(&asJSON, "json", false, "print JSON")
		}
	})
	if err != nil {
		return err
	}
	want := map[string]int{"create": 0, "list": 0, "revoke": 1}
	n, ok := want[sub]
	if !ok {
		return fmt.Errorf("token: unknown subcommand %q (create, list, revoke)", sub)
	}
	if len(rest) != n {
		return fmt.Errorf("token %s: want %d argument(s), got %d", sub, n, len(rest))
	}
	if sub == "revoke" && !auth.ValidPrefix(rest[0]) {
		// Not repeated: it may be a whole token, secret included.
		return fmt.Errorf("token revoke: the argument is not a token prefix (the %d characters after mg_, as token list shows)", auth.PrefixLen)
	}
	a, err := openFromFlags(ctx, env, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	switch sub {
	case "create":
		token, prefix, hash, err := auth.NewToken()
		if err != nil {
			return fmt.Errorf("token create: %w", err)
		}
		t := modelgate.Token{Prefix: prefix, Org: cfg.Org, Name: name, ReadOnly: cfg.ReadOnly}
		if err := a.store.CreateToken(ctx, t, hash); err != nil {
			return userError(err)
		}
		mode := "read-write"
		if t.ReadOnly {
			mode = "read-only"
		}
		fmt.Fprintln(env.Stdout, token)
		fmt.Fprintf(env.Stderr, "created %s token %s for org %s; it is shown only now (the server keeps a hash): send it as Authorization: Bearer <token>\n", mode, prefix, t.Org)
	case "list":
		org := cfg.Org
		if all {
			org = ""
		}
		tokens, err := a.store.ListTokens(ctx, org)
		if err != nil {
			return userError(err)
		}
		if asJSON {
			return writeJSON(env.Stdout, map[string]any{"tokens": tokens})
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PREFIX\tORG\tNAME\tACCESS\tCREATED\tLAST USED\tSTATUS")
		for _, t := range tokens {
			access, used, status := "read-write", "never", "valid"
			if t.ReadOnly {
				access = "read-only"
			}
			if t.LastUsed != nil {
				used = t.LastUsed.Format(time.RFC3339)
			}
			if t.Revoked {
				status = "revoked"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Prefix, t.Org, t.Name, access, t.CreatedAt.Format(time.RFC3339), used, status)
		}
		return tw.Flush()
	case "revoke":
		if err := a.store.RevokeToken(ctx, rest[0]); err != nil {
			return userError(err)
		}
		fmt.Fprintf(env.Stdout, "revoked token %s; it is refused from the next request on\n", rest[0])
	}
	return nil
}
