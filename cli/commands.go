package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/registry"
	"github.com/modelgate/modelgate/secrets"
)

// runModels prints what list_offered_models returns, through the same code.
func runModels(ctx context.Context, env Env, args []string) error {
	var runtime, provider, billing string
	var asJSON bool
	cfg, rest, err := parseFlags(env, "models", args, func(fs *flag.FlagSet) {
		fs.StringVar(&runtime, "runtime", "", "runtime (default: the default runtime)")
		fs.StringVar(&provider, "provider", "", "only this provider")
		fs.StringVar(&billing, "billing", "all", "platform, byok or all")
		fs.BoolVar(&asJSON, "json", false, "print JSON (the tool's structured result)")
	})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("models: unexpected argument %q", rest[0])
	}
	a, err := openFromFlags(ctx, env, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	out, err := a.service.Offered(ctx, a.caller(), runtime, registry.Filter{Provider: provider, Billing: billing})
	if err != nil {
		return userError(err)
	}
	if asJSON {
		// Byte for byte the tool's result (its text block), then a newline.
		b, err := json.Marshal(out)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(env.Stdout, "%s\n", b)
		return err
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "runtime %s (platform default model: %s)\n", out.Runtime, out.DefaultModel)
	fmt.Fprintln(tw, "PROVIDER\tBILLING\tCREDENTIAL\tACCEPTED KEYS\tMODELS")
	for _, arm := range out.Arms {
		bill, cred, keys := "byok", "missing", strings.Join(arm.AuthEnv, ", ")
		if arm.PlatformBilled {
			bill, cred, keys = "platform", "not needed", "-"
		} else if arm.CredentialAvailable {
			cred = "available"
		}
		models := strings.Join(arm.Models, ", ")
		if arm.Pattern != "" {
			models = "any id matching " + arm.Pattern
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", arm.Provider, bill, cred, keys, models)
	}
	return tw.Flush()
}

// runWorkspaces prints the org's workspaces (every page).
func runWorkspaces(ctx context.Context, env Env, args []string) error {
	var status string
	var asJSON bool
	cfg, rest, err := parseFlags(env, "workspaces", args, func(fs *flag.FlagSet) {
		fs.StringVar(&status, "status", "", "only this status (provisioning, online, failed, removed)")
		fs.BoolVar(&asJSON, "json", false, "print JSON")
	})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("workspaces: unexpected argument %q", rest[0])
	}
	a, err := openFromFlags(ctx, env, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	all := []*modelgate.Workspace{}
	cursor := ""
	for {
		page, next, err := a.service.List(ctx, a.caller(), modelgate.WorkspaceFilter{Status: status, Limit: 200, Cursor: cursor})
		if err != nil {
			return userError(err)
		}
		all = append(all, page...)
		if next == "" {
			break
		}
		cursor = next
	}
	if asJSON {
		return writeJSON(env.Stdout, map[string]any{"workspaces": all})
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tRUNTIME\tMODEL\tPROVIDER\tSTATUS\tCREATED")
	for _, w := range all {
		st := w.Status
		if w.StatusCode != "" {
			st += " (" + w.StatusCode + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", w.ID, w.Name, w.Runtime, w.Model, w.Provider, st, w.CreatedAt.Format(time.RFC3339))
	}
	return tw.Flush()
}

// runSecret manages org secrets. A value is read from stdin, never from the
// command line, where other users could see it in the process list.
func runSecret(ctx context.Context, env Env, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(env.Stderr, "usage: mcp-server secret set KEY | list | delete KEY | rotate-key   [--org ORG]")
		return errUsage
	}
	sub := args[0]
	cfg, rest, err := parseFlags(env, "secret "+sub, args[1:], nil)
	if err != nil {
		return err
	}
	want := map[string]int{"set": 1, "delete": 1, "list": 0, "rotate-key": 0}
	n, ok := want[sub]
	if !ok {
		return fmt.Errorf("secret: unknown subcommand %q (set, list, delete, rotate-key)", sub)
	}
	if len(rest) != n {
		return fmt.Errorf("secret %s: want %d argument(s), got %d", sub, n, len(rest))
	}
	if n == 1 && !secrets.ValidName(rest[0]) {
		// Not repeated: people type KEY=VALUE, or the value itself, here.
		return fmt.Errorf("%s: secret %s: KEY must be a name matching ^[A-Z_][A-Z0-9_]{0,127}$ (the value is read from stdin)", modelgate.EInvalidArgument, sub)
	}
	a, err := openFromFlags(ctx, env, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	switch sub {
	case "set":
		value, err := readSecretValue(env.Stdin)
		if err != nil {
			return err
		}
		info, err := a.service.SetOrgSecret(ctx, a.caller(), rest[0], value)
		if err != nil {
			return userError(err)
		}
		fmt.Fprintf(env.Stdout, "set %s for org %s at %s\n", info.Name, cfg.Org, info.UpdatedAt.Format(time.RFC3339))
	case "list":
		list, err := a.service.ListOrgSecrets(ctx, a.caller())
		if err != nil {
			return userError(err)
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KEY\tUPDATED")
		for _, s := range list {
			fmt.Fprintf(tw, "%s\t%s\n", s.Name, s.UpdatedAt.Format(time.RFC3339))
		}
		return tw.Flush()
	case "delete":
		deleted, err := a.service.DeleteOrgSecret(ctx, a.caller(), rest[0])
		if err != nil {
			return userError(err)
		}
		if !deleted {
			fmt.Fprintf(env.Stdout, "%s was not set for org %s\n", rest[0], cfg.Org)
		} else {
			fmt.Fprintf(env.Stdout, "deleted %s for org %s\n", rest[0], cfg.Org)
		}
	case "rotate-key":
		n, err := a.service.RotateKeys(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "re-encrypted %d secret(s) under key %s\n", n, a.keys.CurrentKeyID())
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

// runCatalog checks a catalog file for operators editing one.
func runCatalog(ctx context.Context, env Env, args []string) error {
	if len(args) != 2 || args[0] != "check" {
		fmt.Fprintln(env.Stderr, "usage: mcp-server catalog check FILE")
		return errUsage
	}
	c, err := registry.LoadFile(args[1])
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%s: ok\n%s", args[1], c.Summary())
	return nil
}

// migrator is implemented by both stores.
type migrator interface {
	Migrate(ctx context.Context) (int, error)
}

func runMigrate(ctx context.Context, env Env, args []string) error {
	cfg, rest, err := parseFlags(env, "migrate", args, nil)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("migrate: unexpected argument %q", rest[0])
	}
	a, err := openFromFlags(ctx, env, cfg)
	if err != nil {
		return err
	}
	defer a.Close()
	m, ok := a.store.(migrator)
	if !ok {
		return fmt.Errorf("migrate: this store has no migrations")
	}
	v, err := m.Migrate(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "schema version %d\n", v)
	return nil
}

// userError shows a coded error as its code and message.
func userError(err error) error {
	if modelgate.ErrorCode(err) == modelgate.EInternal {
		return err // people at a terminal see the detail; tools never do
	}
	return fmt.Errorf("%s: %s", modelgate.ErrorCode(err), modelgate.ErrorMessage(err))
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
