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

// The token commands manage the org tokens of the network transports. A
// token is printed once, by create, on stdout alone (so `TOKEN=$(mcp-server
// token create --org acme)` works); the store keeps only its hash, so a lost
// token is revoked and replaced, never recovered.

func tokenCreateSetup(fs *flag.FlagSet) action {
	var name string
	fs.StringVar(&name, "name", "", "`label` of the token, shown by token list")
	return func(ctx context.Context, inv *invocation) error {
		a, err := openFromFlags(ctx, inv)
		if err != nil {
			return err
		}
		defer a.Close()
		token, prefix, hash, err := auth.NewToken()
		if err != nil {
			return fmt.Errorf("token create: %w", err)
		}
		t := modelgate.Token{Prefix: prefix, Org: inv.cfg.Org, Name: name, ReadOnly: inv.cfg.ReadOnly}
		if err := a.store.CreateToken(ctx, t, hash); err != nil {
			return userError(err)
		}
		mode := "read-write"
		if t.ReadOnly {
			mode = "read-only"
		}
		fmt.Fprintln(inv.env.Stdout, token)
		fmt.Fprintf(inv.env.Stderr, "created %s token %s for org %s; it is shown only now (the server keeps a hash): send it as Authorization: Bearer <token>\n", mode, prefix, t.Org)
		return nil
	}
}

func tokenListSetup(fs *flag.FlagSet) action {
	var all, asJSON bool
	fs.BoolVar(&all, "all", false, "list the tokens of every org")
	fs.BoolVar(&asJSON, "json", false, "print one JSON document")
	return func(ctx context.Context, inv *invocation) error {
		a, err := openFromFlags(ctx, inv)
		if err != nil {
			return err
		}
		defer a.Close()
		org := inv.cfg.Org
		if all {
			org = ""
		}
		tokens, err := a.store.ListTokens(ctx, org)
		if err != nil {
			return userError(err)
		}
		if asJSON {
			if tokens == nil {
				tokens = []modelgate.Token{}
			}
			return writeJSON(inv.env.Stdout, map[string]any{"tokens": tokens})
		}
		tw := tabwriter.NewWriter(inv.env.Stdout, 0, 4, 2, ' ', 0)
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
	}
}

func tokenRevokeSetup(*flag.FlagSet) action {
	return func(ctx context.Context, inv *invocation) error {
		prefix := inv.args[0]
		if !auth.ValidPrefix(prefix) {
			// Not repeated: it may be a whole token, secret included.
			return fmt.Errorf("token revoke: the argument is not a token prefix (the %d characters after mg_, as token list shows)", auth.PrefixLen)
		}
		a, err := openFromFlags(ctx, inv)
		if err != nil {
			return err
		}
		defer a.Close()
		if err := a.store.RevokeToken(ctx, prefix); err != nil {
			return userError(err)
		}
		fmt.Fprintf(inv.env.Stdout, "revoked token %s; it is refused from the next request on\n", prefix)
		return nil
	}
}
