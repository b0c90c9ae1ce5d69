package cli

import (
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
)

func modelsSetup(fs *flag.FlagSet) action {
	var runtime, provider, billing string
	var asJSON bool
	fs.StringVar(&runtime, "runtime", "", "`runtime` whose models to print (default: the default runtime)")
	fs.StringVar(&provider, "provider", "", "only this `provider`")
	fs.StringVar(&billing, "billing", "all", "`billing`: platform, byok or all")
	fs.BoolVar(&asJSON, "json", false, "print one JSON document: the tool's structured result")
	return func(ctx context.Context, inv *invocation) error {
		return runModels(ctx, inv, runtime, registry.Filter{Provider: provider, Billing: billing}, asJSON)
	}
}

// runModels prints what list_offered_models returns, through the same code.
func runModels(ctx context.Context, inv *invocation, runtime string, filter registry.Filter, asJSON bool) error {
	a, err := openFromFlags(ctx, inv)
	if err != nil {
		return err
	}
	defer a.Close()
	out, err := a.service.Offered(ctx, a.caller(), runtime, filter)
	if err != nil {
		return userError(err)
	}
	if asJSON {
		// Byte for byte the tool's result (its text block), then a newline.
		b, err := json.Marshal(out)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(inv.env.Stdout, "%s\n", b)
		return err
	}
	tw := tabwriter.NewWriter(inv.env.Stdout, 0, 4, 2, ' ', 0)
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

func workspacesSetup(fs *flag.FlagSet) action {
	var status string
	var asJSON bool
	fs.StringVar(&status, "status", "", "only this `status` (provisioning, online, failed, removed)")
	fs.BoolVar(&asJSON, "json", false, "print one JSON document")
	return func(ctx context.Context, inv *invocation) error { return runWorkspaces(ctx, inv, status, asJSON) }
}

// runWorkspaces prints the org's workspaces (every page).
func runWorkspaces(ctx context.Context, inv *invocation, status string, asJSON bool) error {
	a, err := openFromFlags(ctx, inv)
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
		return writeJSON(inv.env.Stdout, map[string]any{"workspaces": all})
	}
	tw := tabwriter.NewWriter(inv.env.Stdout, 0, 4, 2, ' ', 0)
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

func catalogCheckSetup(*flag.FlagSet) action { return runCatalogCheck }

// runCatalogCheck checks a catalog file for operators editing one.
func runCatalogCheck(_ context.Context, inv *invocation) error {
	file := inv.args[0]
	c, err := registry.LoadFile(file)
	if err != nil {
		return err
	}
	fmt.Fprintf(inv.env.Stdout, "%s: ok\n%s", file, c.Summary())
	return nil
}

// migrator is implemented by both stores.
type migrator interface {
	Migrate(ctx context.Context) (int, error)
}

func migrateSetup(*flag.FlagSet) action { return runMigrate }

func runMigrate(ctx context.Context, inv *invocation) error {
	a, err := openFromFlags(ctx, inv)
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
	fmt.Fprintf(inv.env.Stdout, "schema version %d\n", v)
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
