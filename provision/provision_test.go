package provision_test

import (
	"context"
	"fmt"
	"github.com/modelgate/modelgate/internal/testlog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/gate"
	"github.com/modelgate/modelgate/postgres"
	"github.com/modelgate/modelgate/postgres/pgtest"
	"github.com/modelgate/modelgate/provision"
	"github.com/modelgate/modelgate/registry"
	"github.com/modelgate/modelgate/secrets"
	"github.com/modelgate/modelgate/sqlite"
	"github.com/rs/zerolog"
)

const canary = "sk-canary-provision-5e1d"

// counter is a store that can count its rows.
type counter interface {
	modelgate.Store
	Counts(ctx context.Context) (map[string]int64, error)
}

type testBundle struct {
	svc    *provision.Service
	store  counter
	tracer *tracer // nil on SQLite
	schema string  // PostgreSQL only
	logs   *testlog.Buffer
	caller modelgate.Caller
}

// stores are the two implementations every test here runs against.
var stores = []string{"sqlite", "postgres"}

// eachStore runs test in parallel subtests, one per store, each with its
// own bundle.
func eachStore(t *testing.T, test func(t *testing.T, b testBundle)) {
	t.Helper()
	for _, kind := range stores {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			test(t, setup(t, kind))
		})
	}
}

func setup(t *testing.T, kind string) testBundle {
	t.Helper()
	b := testBundle{logs: &testlog.Buffer{}, caller: modelgate.Caller{Org: "acme"}}
	log := zerolog.New(b.logs)
	switch kind {
	case "sqlite":
		db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "m.db"), sqlite.Options{Log: log})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		b.store = db
	case "postgres":
		b.tracer = &tracer{}
		b.schema = pgtest.Schema(t)
		b.store = pgtest.Open(t, postgres.Options{Log: log, Tracer: b.tracer, Schema: b.schema})
	}
	b.svc = newService(t, b.store, log)
	return b
}

// newService returns the service over store with a fresh random keyring.
func newService(tb testing.TB, store modelgate.Store, log zerolog.Logger) *provision.Service {
	tb.Helper()
	keys, err := secrets.NewKeyring(secrets.GenerateKey())
	if err != nil {
		tb.Fatal(err)
	}
	return provision.New(store, gate.New(registry.Default(), log), keys, log)
}

func (b testBundle) counts(t *testing.T) map[string]int64 {
	t.Helper()
	c, err := b.store.Counts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// tracer records the SQL of every query, batch query included, except the
// notifications that the DB sends on its own after CreateWorkspace (at a
// time of its choosing, so they would land in whichever call came next).
type tracer struct {
	mu  sync.Mutex
	sql []string
}

func (tr *tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	tr.record(d.SQL)
	return ctx
}
func (tr *tracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (tr *tracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}
func (tr *tracer) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	tr.record(d.SQL)
}
func (tr *tracer) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

func (tr *tracer) record(sql string) {
	if strings.Contains(sql, "pg_notify") {
		return
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.sql = append(tr.sql, strings.Join(strings.Fields(sql), " "))
}

// take returns the queries recorded since the last take.
func (tr *tracer) take() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	out := tr.sql
	tr.sql = nil
	return out
}

func isOrgSecretQuery(sql string) bool { return strings.Contains(sql, "FROM org_secrets") }

func countOrgSecretQueries(qs []string) int {
	n := 0
	for _, q := range qs {
		if isOrgSecretQuery(q) {
			n++
		}
	}
	return n
}

// TestProvision_QueryDiscipline proves with a pgx tracer what the gate
// promises about the database: a platform model makes no query before the
// insert; a BYOK model satisfied by a workspace secret makes no org-secret
// query; otherwise exactly one; list_offered_models at most one per call.
func TestProvision_QueryDiscipline(t *testing.T) {
	t.Parallel()
	b := setup(t, "postgres")
	ctx := t.Context()

	b.tracer.take()
	if _, err := b.svc.Provision(ctx, b.caller, provision.Request{Name: "p", Model: "moonshot/kimi-k2.6"}); err != nil {
		t.Fatal(err)
	}
	qs := b.tracer.take()
	if len(qs) == 0 || !strings.Contains(qs[0], "INSERT INTO workspaces") {
		t.Fatalf("platform model: first query is not the insert: %q", qs)
	}

	if _, err := b.svc.Provision(ctx, b.caller, provision.Request{Name: "w", Model: "claude-sonnet-4-6", Secrets: map[string]string{"ANTHROPIC_API_KEY": canary}}); err != nil {
		t.Fatal(err)
	}
	if qs := b.tracer.take(); countOrgSecretQueries(qs) != 0 || !strings.Contains(qs[0], "INSERT INTO workspaces") {
		t.Fatalf("workspace secret: queries %q, want the insert first and no org-secret query", qs)
	}

	if _, err := b.svc.SetOrgSecret(ctx, b.caller, "ANTHROPIC_API_KEY", canary); err != nil {
		t.Fatal(err)
	}
	b.tracer.take()
	if _, err := b.svc.Provision(ctx, b.caller, provision.Request{Name: "o", Model: "claude-sonnet-4-6"}); err != nil {
		t.Fatal(err)
	}
	if qs := b.tracer.take(); countOrgSecretQueries(qs) != 1 || !isOrgSecretQuery(qs[0]) {
		t.Fatalf("org secret: queries %q, want exactly one org-secret query, first", qs)
	}
	if _, err := b.svc.Provision(ctx, b.caller, provision.Request{Name: "r", Model: "groq:llama-3", Runtime: "openclaw"}); modelgate.ErrorCode(err) != modelgate.EMissingCredential {
		t.Fatalf("groq without key: %v", err)
	}
	if qs := b.tracer.take(); countOrgSecretQueries(qs) != 1 {
		t.Fatalf("refusal: queries %q, want exactly one org-secret query", qs)
	}

	for _, rt := range registry.Default().Runtimes() {
		if _, err := b.svc.Offered(ctx, b.caller, rt, registry.Filter{}); err != nil {
			t.Fatal(err)
		}
		if qs := b.tracer.take(); len(qs) > 1 {
			t.Fatalf("list_offered_models %s: %d queries %q, want at most one", rt, len(qs), qs)
		}
	}
	if _, err := b.svc.Offered(ctx, b.caller, "claude-code", registry.Filter{Billing: "platform"}); err != nil {
		t.Fatal(err)
	}
	if qs := b.tracer.take(); len(qs) != 0 {
		t.Fatalf("list_offered_models of platform models only: queries %q, want none", qs)
	}
}

// TestProvision_FailOpenOnEachKindOfLookupFault breaks the org secret-name
// lookup three real ways in PostgreSQL — the query fails, a row does not
// scan, the result fails after the query returned (rows.Err) — and checks
// that each makes the gate allow (unverified) and log a warning.
func TestProvision_FailOpenOnEachKindOfLookupFault(t *testing.T) {
	t.Parallel()
	faults := []struct {
		name, sql, logged string
	}{
		{"query error", `ALTER TABLE org_secrets RENAME TO org_secrets_moved`, "does not exist"},
		{"row scan error", `ALTER TABLE org_secrets RENAME TO org_secrets_moved;
			CREATE VIEW org_secrets AS SELECT org, NULL::text AS name, key_id, ciphertext, checked_at, rejected_at FROM org_secrets_moved`, "NULL"},
		{"error after the query (rows.Err)", `ALTER TABLE org_secrets RENAME TO org_secrets_moved;
			CREATE VIEW org_secrets AS SELECT org, CASE WHEN name = 'ZZZ_KEY' THEN (1/0)::text ELSE name END AS name, key_id, ciphertext, checked_at, rejected_at FROM org_secrets_moved`, "division by zero"},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, "postgres")
			ctx := t.Context()
			for _, k := range []string{"AAA_KEY", "ZZZ_KEY"} {
				if _, err := b.svc.SetOrgSecret(ctx, b.caller, k, canary); err != nil {
					t.Fatal(err)
				}
			}
			pgtest.Exec(t, b.schema, f.sql)
			// Put the table back for the integrity check of pgtest.Open,
			// which runs after this cleanup.
			t.Cleanup(func() {
				pgtest.Exec(t, b.schema, `DROP VIEW IF EXISTS org_secrets; ALTER TABLE org_secrets_moved RENAME TO org_secrets`)
			})
			res, err := b.svc.Provision(ctx, b.caller, provision.Request{Name: "x", Model: "claude-sonnet-4-6"})
			if err != nil {
				t.Fatalf("Provision = %v, want allowed by the fail-open rule", err)
			}
			if res.CredentialScope != modelgate.ScopeUnverified {
				t.Fatalf("credential_scope = %q, want unverified", res.CredentialScope)
			}
			logs := b.logs.String()
			if !strings.Contains(logs, "fail-open") || !strings.Contains(logs, f.logged) {
				t.Fatalf("no fail-open warning naming %q in the log:\n%s", f.logged, logs)
			}
			if strings.Contains(logs, canary) {
				t.Fatal("a secret value was logged")
			}
		})
	}
}

// TestProvision_RefusalWritesNothing compares the row count of every table
// before and after each refused call, on both stores. The audit trail is the
// one table a refusal adds to, by design (one entry per decision).
func TestProvision_RefusalWritesNothing(t *testing.T) {
	t.Parallel()
	refusals := []provision.Request{
		{Name: "", Model: "moonshot/kimi-k2.6"},
		{Name: "a", Runtime: "langgraph", Model: "x"},
		{Name: "a", Model: ""},
		{Name: "a", Model: "claude-sonet-4-6"},
		{Name: "a", Model: "claude-sonnet-4-6"},
		{Name: "a", Model: "claude-sonnet-4-6", Secrets: map[string]string{"ANTHROPIC_API_KEY": ""}},
		{Name: "a", Model: "claude-sonnet-4-6", Secrets: map[string]string{"bad name": canary}},
		{Name: "a", Model: "moonshot/kimi-k2.6", ParentID: "00000000-0000-0000-0000-000000000000", Secrets: map[string]string{"X_KEY": canary}},
		{Name: "taken", Model: "moonshot/kimi-k2.6", Secrets: map[string]string{"X_KEY": canary}},
		{Name: "a", Model: "moonshot/kimi-k2.6", Tier: 9},
	}
	eachStore(t, func(t *testing.T, b testBundle) {
		ctx := t.Context()
		if _, err := b.svc.Provision(ctx, b.caller, provision.Request{Name: "taken", Model: "moonshot/kimi-k2.6"}); err != nil {
			t.Fatal(err)
		}
		for i, req := range refusals {
			before := b.counts(t)
			if _, err := b.svc.Provision(ctx, b.caller, req); err == nil {
				t.Fatalf("refusal %d was allowed", i)
			}
			after := b.counts(t)
			if after["audit"] != before["audit"]+1 {
				t.Fatalf("refusal %d: audit %d -> %d, want one entry", i, before["audit"], after["audit"])
			}
			delete(before, "audit")
			delete(after, "audit")
			if diff := cmp.Diff(before, after); diff != "" {
				t.Fatalf("refusal %d (%+v) wrote rows:\n%s", i, req, diff)
			}
		}
	})
}

// TestProvision_ConcurrentCalls: 50 concurrent calls with one name create
// exactly one workspace and the rest get NAME_CONFLICT; 50 with one
// idempotency key create one and all get the identical result.
func TestProvision_ConcurrentCalls(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b testBundle) {
		ctx := t.Context()
		run := func(req func(i int) provision.Request) ([]*provision.Result, []error) {
			results, errs := make([]*provision.Result, 50), make([]error, 50)
			var wg sync.WaitGroup
			for i := range 50 {
				wg.Go(func() { results[i], errs[i] = b.svc.Provision(ctx, b.caller, req(i)) })
			}
			wg.Wait()
			return results, errs
		}
		_, errs := run(func(int) provision.Request {
			return provision.Request{Name: "same", Model: "claude-sonnet-4-6", Secrets: map[string]string{"ANTHROPIC_API_KEY": canary}}
		})
		ok, conflicts := 0, 0
		for _, err := range errs {
			switch modelgate.ErrorCode(err) {
			case "":
				ok++
			case modelgate.ENameConflict:
				conflicts++
			default:
				t.Fatalf("unexpected error: %v", err)
			}
		}
		if ok != 1 || conflicts != 49 {
			t.Fatalf("one name: %d created, %d NAME_CONFLICT; want 1 and 49", ok, conflicts)
		}
		results, errs := run(func(i int) provision.Request {
			return provision.Request{Name: fmt.Sprintf("key-%d", i%3), Model: "moonshot/kimi-k2.6", IdempotencyKey: "k"}
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("idempotent call %d: %v", i, err)
			}
			if diff := cmp.Diff(results[0], results[i]); diff != "" {
				t.Fatalf("idempotent call %d differs:\n%s", i, diff)
			}
		}
		if c := b.counts(t); c["workspaces"] != 2 || c["workspace_secrets"] != 1 {
			t.Fatalf("counts %v, want 2 workspaces and 1 workspace secret", c)
		}
	})
}

// TestProvision_RepeatedKeyReturnsTheFirstResultEvenIfTheGateWouldNowRefuse:
// a client retrying after a lost answer gets the workspace it created, not
// a refusal, even when the org key was deleted since or the retry differs.
func TestProvision_RepeatedKeyReturnsTheFirstResultEvenIfTheGateWouldNowRefuse(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b testBundle) {
		ctx := t.Context()
		if _, err := b.svc.SetOrgSecret(ctx, b.caller, "ANTHROPIC_API_KEY", canary); err != nil {
			t.Fatal(err)
		}
		first, err := b.svc.Provision(ctx, b.caller, provision.Request{Name: "w", Model: "claude-sonnet-4-6", IdempotencyKey: "retry-1"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.svc.DeleteOrgSecret(ctx, b.caller, "ANTHROPIC_API_KEY"); err != nil {
			t.Fatal(err)
		}
		again, err := b.svc.Provision(ctx, b.caller, provision.Request{Name: "w", Model: "claude-sonet-4-6", IdempotencyKey: "retry-1"})
		if err != nil {
			t.Fatalf("retry with the same key = %v, want the first result", err)
		}
		if diff := cmp.Diff(first, again); diff != "" {
			t.Fatalf("retry differs from the first result:\n%s", diff)
		}
	})
}

// TestProvision_DryRunReportsANameConflict: a dry run makes every check the
// real call would, including the name.
func TestProvision_DryRunReportsANameConflict(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b testBundle) {
		ctx := t.Context()
		if _, err := b.svc.Provision(ctx, b.caller, provision.Request{Name: "taken", Model: "moonshot/kimi-k2.6"}); err != nil {
			t.Fatal(err)
		}
		_, err := b.svc.Provision(ctx, b.caller, provision.Request{Name: "taken", Model: "moonshot/kimi-k2.6", DryRun: true})
		if modelgate.ErrorCode(err) != modelgate.ENameConflict {
			t.Fatalf("dry run with a taken name = %v, want NAME_CONFLICT", err)
		}
		if _, err := b.svc.Provision(ctx, b.caller, provision.Request{Name: "free", Model: "moonshot/kimi-k2.6", DryRun: true}); err != nil {
			t.Fatalf("dry run with a free name = %v", err)
		}
	})
}

// TestProvision_SecretRulesHoldOnEveryPathAndWriteNothing (issue 10, holes
// 2 and 3): on both stores, SetOrgSecret and Provision's secrets refuse a
// reserved name and a blank, NUL-bearing or oversized value with
// INVALID_ARGUMENT naming the secret and never the value, and write nothing
// but the audit entry; a padded value is accepted and counts.
func TestProvision_SecretRulesHoldOnEveryPathAndWriteNothing(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b testBundle) {
		ctx := t.Context()
		before := b.counts(t)
		delete(before, "audit")
		for _, tc := range []struct{ name, value string }{
			{"MODELGATE_PLATFORM_TOKEN", canary},
			{"KIMI_API_KEY", " \t\n "},
			{"KIMI_API_KEY", canary + "\x00"},
			{"KIMI_API_KEY", canary + strings.Repeat("x", 16<<10)},
		} {
			_, err := b.svc.SetOrgSecret(ctx, b.caller, tc.name, tc.value)
			if modelgate.ErrorCode(err) != modelgate.EInvalidArgument || !strings.Contains(err.Error(), tc.name) || strings.Contains(err.Error(), canary) {
				t.Errorf("SetOrgSecret(%s) = %v", tc.name, err)
			}
			_, err = b.svc.Provision(ctx, b.caller, provision.Request{Name: "w", Runtime: "claude-code", Model: "kimi-k2.5",
				Secrets: map[string]string{tc.name: tc.value}})
			if modelgate.ErrorCode(err) != modelgate.EInvalidArgument || !strings.Contains(err.Error(), tc.name) || strings.Contains(err.Error(), canary) {
				t.Errorf("Provision with secret %s = %v", tc.name, err)
			}
		}
		after := b.counts(t)
		delete(after, "audit")
		if diff := cmp.Diff(before, after); diff != "" {
			t.Fatalf("refusals wrote rows: %s", diff)
		}
		if _, err := b.svc.SetOrgSecret(ctx, b.caller, "KIMI_API_KEY", "  padded-value \n"); err != nil {
			t.Fatal(err)
		}
		names, err := b.svc.OrgCredentials(b.caller.Org).OrgSecretNames(ctx)
		if err != nil || !slices.Equal(names, []string{"KIMI_API_KEY"}) {
			t.Fatalf("usable org names = %v, %v", names, err)
		}
	})
}
