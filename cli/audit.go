package cli

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/modelgate/modelgate"
)

func auditSetup(fs *flag.FlagSet) action {
	var since string
	var limit int
	var asJSON bool
	fs.StringVar(&since, "since", "", "only decisions at or after this `time`: RFC 3339 (2026-11-28T10:00:00Z) or a duration ago (24h)")
	fs.IntVar(&limit, "limit", 1000, "at most `N` decisions")
	fs.BoolVar(&asJSON, "json", false, "print one JSON document")
	return func(ctx context.Context, inv *invocation) error { return runAudit(ctx, inv, since, limit, asJSON) }
}

// runAudit prints the gate decisions of provision_workspace, oldest first.
func runAudit(ctx context.Context, inv *invocation, since string, limit int, asJSON bool) error {
	from, err := parseSince(since, time.Now())
	if err != nil {
		return err
	}
	// Every org unless one was asked for (--org or MODELGATE_ORG).
	org := ""
	if inv.given["org"] {
		org = inv.cfg.Org
	}
	a, err := openFromFlags(ctx, inv)
	if err != nil {
		return err
	}
	defer a.Close()
	entries, err := a.store.ListAudit(ctx, org, from, limit)
	if err != nil {
		return err
	}
	if asJSON {
		if entries == nil {
			entries = []modelgate.AuditEntry{}
		}
		return writeJSON(inv.env.Stdout, map[string]any{"audit": entries})
	}
	tw := tabwriter.NewWriter(inv.env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tORG\tTOKEN\tDECISION\tRUNTIME\tMODEL\tPROVIDER\tSCOPE\tWORKSPACE\tKEY LINK")
	for _, e := range entries {
		decision := "allowed"
		if !e.Allowed {
			decision = "refused " + e.Code
		}
		if e.DryRun {
			decision += " (dry run)"
		}
		if e.Event != "" {
			// A key link event: what happened to the link, and the name it stored.
			decision = strings.TrimSpace(e.Event + " " + e.Code + " " + e.SecretName)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.At.Format(time.RFC3339), e.Org, dash(e.TokenPrefix),
			decision, e.Runtime, e.Model, dash(e.Provider), dash(e.CredentialScope), dash(e.WorkspaceID), dash(e.KeyLink))
	}
	return tw.Flush()
}

// parseSince reads --since: a time or a duration before now ("" is the
// beginning of time).
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--since: %q is neither an RFC 3339 time nor a positive duration", s)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
