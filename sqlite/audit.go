package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/google/uuid"

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
	tx, err := db.begin(ctx)
	if err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	defer tx.Rollback()
	if err := insertAudit(ctx, tx, id.String(), e); err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("append audit: %w", err)
	}
	return nil
}

func insertAudit(ctx context.Context, tx *sql.Tx, id string, e modelgate.AuditEntry) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO audit (org, id, at, token_prefix, allowed, code, runtime, model, provider,
			credential_scope, workspace_id, dry_run, event, key_link, secret_name)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Org, id, ts(e.At), e.TokenPrefix, e.Allowed, e.Code, e.Runtime, e.Model, e.Provider,
		e.CredentialScope, storecore.NullText(e.WorkspaceID), e.DryRun, e.Event, e.KeyLink, e.SecretName)
	return err
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
	query, args := cols+` WHERE at >= ?1 ORDER BY at, id LIMIT ?2`, []any{ts(since), limit}
	if org != "" {
		query, args = cols+` WHERE org = ?3 AND at >= ?1 ORDER BY at, id LIMIT ?2`, append(args, org)
	}
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	entries, err := collect(rows, func(r *sql.Rows) (modelgate.AuditEntry, error) {
		var e modelgate.AuditEntry
		var ws sql.NullString
		err := r.Scan(&e.Org, timeCol{&e.At}, &e.TokenPrefix, &e.Allowed, &e.Code, &e.Runtime, &e.Model, &e.Provider,
			&e.CredentialScope, &ws, &e.DryRun, &e.Event, &e.KeyLink, &e.SecretName)
		e.WorkspaceID = ws.String
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
	if _, err := db.write.ExecContext(ctx, `INSERT INTO credential_checks (org, id, at, provider, name, scope, workspace_id,
			verdict, status, reason, latency_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.Org, id.String(), ts(c.At), c.Provider, c.Name, c.Scope, storecore.NullText(c.WorkspaceID),
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
	const cols = `SELECT org, at, provider, name, scope, workspace_id, verdict, status, reason, latency_us FROM credential_checks`
	query, args := cols+` WHERE at >= ?1 ORDER BY at, id LIMIT ?2`, []any{ts(since), limit}
	if org != "" {
		query, args = cols+` WHERE org = ?3 AND at >= ?1 ORDER BY at, id LIMIT ?2`, append(args, org)
	}
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list credential checks: %w", err)
	}
	checks, err := collect(rows, func(r *sql.Rows) (modelgate.CredentialCheck, error) {
		var c modelgate.CredentialCheck
		var ws sql.NullString
		var us int64
		err := r.Scan(&c.Org, timeCol{&c.At}, &c.Provider, &c.Name, &c.Scope, &ws, &c.Verdict, &c.Status, &c.Reason, &us)
		c.WorkspaceID, c.Latency = ws.String, time.Duration(us)*time.Microsecond
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("list credential checks: %w", err)
	}
	return checks, nil
}
