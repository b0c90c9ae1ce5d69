package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/internal/storecore"
)

// AppendAudit appends one gate decision. A zero e.At means now. It returns
// EInvalidArgument for an entry without org or with a WorkspaceID that is
// not a UUID, and a wrapped error if the database fails.
func (db *DB) AppendAudit(ctx context.Context, e modelgate.AuditEntry) error {
	e, err := storecore.NewAuditEntry(e)
	if err != nil {
		return err
	}
	// Version 7: ordered by time, so it breaks ties of at in insertion order.
	id, err := uuid.NewV7()
	if err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	if _, err := db.pool.Exec(ctx, `INSERT INTO audit (org, id, at, token_prefix, allowed, code, runtime, model, provider,
			credential_scope, workspace_id, dry_run, event, key_link, secret_name)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		e.Org, id.String(), e.At, e.TokenPrefix, e.Allowed, e.Code, e.Runtime, e.Model, e.Provider,
		e.CredentialScope, storecore.NullText(e.WorkspaceID), e.DryRun, e.Event, e.KeyLink, e.SecretName); err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	return nil
}

// ListAudit returns up to limit entries of the org (of every org if org is
// "") at or after since, oldest first. It returns EInvalidArgument for a
// limit below 1 and a wrapped error if the database fails.
func (db *DB) ListAudit(ctx context.Context, org string, since time.Time, limit int) ([]modelgate.AuditEntry, error) {
	if limit < 1 {
		return nil, modelgate.Errorf(modelgate.EInvalidArgument, "limit must be at least 1, not %d", limit)
	}
	const cols = `SELECT org, at, token_prefix, allowed, code, runtime, model, provider, credential_scope,
		workspace_id, dry_run, event, key_link, secret_name FROM audit`
	sql, args := cols+` WHERE at >= $1 ORDER BY at, id LIMIT $2`, []any{storecore.Micro(since), limit}
	if org != "" {
		sql, args = cols+` WHERE org = $3 AND at >= $1 ORDER BY at, id LIMIT $2`, append(args, org)
	}
	rows, err := db.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	entries, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (modelgate.AuditEntry, error) {
		var e modelgate.AuditEntry
		var ws *string
		err := r.Scan(&e.Org, &e.At, &e.TokenPrefix, &e.Allowed, &e.Code, &e.Runtime, &e.Model, &e.Provider,
			&e.CredentialScope, &ws, &e.DryRun, &e.Event, &e.KeyLink, &e.SecretName)
		e.At, e.WorkspaceID = e.At.UTC(), text(ws)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	return entries, nil
}

// AppendCredentialCheck appends one credential check (a zero At means now)
// without creating the org's row. It returns EInvalidArgument as
// storecore.NewCredentialCheck and a wrapped error if the database fails.
func (db *DB) AppendCredentialCheck(ctx context.Context, c modelgate.CredentialCheck) error {
	c, err := storecore.NewCredentialCheck(c)
	if err != nil {
		return err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return fmt.Errorf("append credential check: %w", err)
	}
	if _, err := db.pool.Exec(ctx, `INSERT INTO credential_checks (org, id, at, provider, name, scope, workspace_id,
			verdict, status, reason, latency_us) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		c.Org, id.String(), c.At, c.Provider, c.Name, c.Scope, storecore.NullText(c.WorkspaceID),
		c.Verdict, c.Status, c.Reason, c.Latency.Microseconds()); err != nil {
		return fmt.Errorf("append credential check: %w", err)
	}
	return nil
}

// ListCredentialChecks returns up to limit checks of the org (of every org
// if org is "") at or after since, oldest first. It returns
// EInvalidArgument for a limit below 1 and a wrapped error if the database
// fails.
func (db *DB) ListCredentialChecks(ctx context.Context, org string, since time.Time, limit int) ([]modelgate.CredentialCheck, error) {
	if limit < 1 {
		return nil, modelgate.Errorf(modelgate.EInvalidArgument, "limit must be at least 1, not %d", limit)
	}
	const cols = `SELECT org, at, provider, name, scope, workspace_id::text, verdict, status, reason, latency_us FROM credential_checks`
	sql, args := cols+` WHERE at >= $1 ORDER BY at, id LIMIT $2`, []any{storecore.Micro(since), limit}
	if org != "" {
		sql, args = cols+` WHERE org = $3 AND at >= $1 ORDER BY at, id LIMIT $2`, append(args, org)
	}
	rows, err := db.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("list credential checks: %w", err)
	}
	checks, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (modelgate.CredentialCheck, error) {
		var c modelgate.CredentialCheck
		var ws *string
		var us int64
		err := r.Scan(&c.Org, &c.At, &c.Provider, &c.Name, &c.Scope, &ws, &c.Verdict, &c.Status, &c.Reason, &us)
		c.At, c.WorkspaceID, c.Latency = c.At.UTC(), text(ws), time.Duration(us)*time.Microsecond
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("list credential checks: %w", err)
	}
	return checks, nil
}
