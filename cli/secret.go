package cli

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/secrets"
)

// The secret commands manage org secrets. A value is read from stdin, never
// from the command line, where other users could see it in the process list.

func secretSetSetup(*flag.FlagSet) action {
	return func(ctx context.Context, inv *invocation) error {
		if err := checkSecretName(inv); err != nil {
			return err
		}
		value, err := readSecretValue(inv.env.Stdin)
		if err != nil {
			return err
		}
		a, err := openFromFlags(ctx, inv)
		if err != nil {
			return err
		}
		defer a.Close()
		info, err := a.service.SetOrgSecret(ctx, a.caller(), inv.args[0], value)
		if err != nil {
			return userError(err)
		}
		fmt.Fprintf(inv.env.Stdout, "set %s for org %s at %s\n", info.Name, inv.cfg.Org, info.UpdatedAt.Format(time.RFC3339))
		return nil
	}
}

func secretListSetup(fs *flag.FlagSet) action {
	var asJSON bool
	fs.BoolVar(&asJSON, "json", false, "print one JSON document, as list_org_secrets returns")
	return func(ctx context.Context, inv *invocation) error {
		a, err := openFromFlags(ctx, inv)
		if err != nil {
			return err
		}
		defer a.Close()
		list, err := a.service.ListOrgSecrets(ctx, a.caller())
		if err != nil {
			return userError(err)
		}
		if asJSON {
			if list == nil {
				list = []modelgate.SecretInfo{}
			}
			return writeJSON(inv.env.Stdout, map[string]any{"secrets": list})
		}
		tw := tabwriter.NewWriter(inv.env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KEY\tUPDATED")
		for _, s := range list {
			fmt.Fprintf(tw, "%s\t%s\n", s.Name, s.UpdatedAt.Format(time.RFC3339))
		}
		return tw.Flush()
	}
}

func secretDeleteSetup(*flag.FlagSet) action {
	return func(ctx context.Context, inv *invocation) error {
		if err := checkSecretName(inv); err != nil {
			return err
		}
		a, err := openFromFlags(ctx, inv)
		if err != nil {
			return err
		}
		defer a.Close()
		deleted, err := a.service.DeleteOrgSecret(ctx, a.caller(), inv.args[0])
		if err != nil {
			return userError(err)
		}
		if !deleted {
			fmt.Fprintf(inv.env.Stdout, "%s was not set for org %s\n", inv.args[0], inv.cfg.Org)
		} else {
			fmt.Fprintf(inv.env.Stdout, "deleted %s for org %s\n", inv.args[0], inv.cfg.Org)
		}
		return nil
	}
}

func secretRotateSetup(*flag.FlagSet) action {
	return func(ctx context.Context, inv *invocation) error {
		a, err := openFromFlags(ctx, inv)
		if err != nil {
			return err
		}
		defer a.Close()
		n, err := a.service.RotateKeys(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(inv.env.Stdout, "re-encrypted %d secret(s) under key %s\n", n, a.keys.CurrentKeyID())
		return nil
	}
}

// checkSecretName refuses a KEY argument that is not a secret name without
// repeating it: people type KEY=VALUE, or the value itself, there.
func checkSecretName(inv *invocation) error {
	if !secrets.ValidName(inv.args[0]) {
		return fmt.Errorf("%s: %s: KEY must be a name matching ^[A-Z_][A-Z0-9_]{0,127}$ (the value is read from stdin)", modelgate.EInvalidArgument, inv.path)
	}
	return nil
}

// readSecretValue reads one value from stdin: everything, less one trailing
// newline (so `echo KEY | mcp-server secret set` works).
func readSecretValue(r io.Reader) (string, error) {
	if r == nil {
		return "", fmt.Errorf("secret set: the value is read from stdin, which is empty")
	}
	b, err := io.ReadAll(bufio.NewReader(io.LimitReader(r, 1<<20)))
	if err != nil {
		return "", fmt.Errorf("secret set: read stdin: %w", err)
	}
	v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if v == "" {
		return "", fmt.Errorf("secret set: the value is read from stdin, which is empty")
	}
	return v, nil
}
