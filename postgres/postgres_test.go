package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/postgres"
	"github.com/modelgate/modelgate/postgres/pgtest"
	"github.com/modelgate/modelgate/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) modelgate.Store { return pgtest.Open(t, postgres.Options{}) })
}

// TestOrgSecretWrites_PublishBeforeReturning: every write of org secrets
// tells this process's listeners itself, before it returns.
func TestOrgSecretWrites_PublishBeforeReturning(t *testing.T) {
	t.Parallel()
	db := pgtest.Open(t, postgres.Options{})
	storetest.CheckOrgSecretWritesPublish(t, db, db.SubscribeOrgSecretChanges)
}

// TestStoreReplicas runs the cases of two stores on one schema, as two
// replicas see it.
func TestStoreReplicas(t *testing.T) {
	storetest.RunReplicas(t, func(t *testing.T) (modelgate.Store, modelgate.Store) {
		schema := pgtest.Schema(t)
		return pgtest.Open(t, postgres.Options{Schema: schema}), pgtest.Open(t, postgres.Options{Schema: schema})
	})
}

// schemaVersion is the number of files in migrations/.
const schemaVersion = 6

func TestMigrate_IsIdempotent(t *testing.T) {
	ctx := t.Context()
	db := pgtest.Open(t, postgres.Options{})
	for range 3 {
		v, err := db.Migrate(ctx)
		if err != nil || v != schemaVersion {
			t.Fatalf("Migrate = %d, %v; want %d, nil", v, err, schemaVersion)
		}
	}
	var n int
	if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != schemaVersion {
		t.Errorf("schema_migrations has %d rows (%v), want %d", n, err, schemaVersion)
	}
}

// undoVersion5SQL undoes migration 5 (the notifying trigger of org
// secrets), which storetest.Version1SQL, shared by both dialects, leaves
// alone.
const undoVersion5SQL = `DROP FUNCTION notify_org_secrets_changed() CASCADE`

// Version 1 wrote each workspace's creation as event seq 1; version 2 reads
// it from the workspace row. A history must read the same on a database of
// version 1 (a server of version 2 may start before the migration is
// applied by another) and after the migration, which deletes those rows.
func TestMigrate_FromVersion1KeepsStatusHistories(t *testing.T) {
	ctx := t.Context()
	db := pgtest.Open(t, postgres.Options{})
	id, want := storetest.RemovedWorkspace(t, db)
	if _, err := db.Pool().Exec(ctx, undoVersion5SQL+";"+storetest.Version1SQL); err != nil {
		t.Fatal(err)
	}
	got, err := db.StatusChanges(ctx, "acme", id)
	if err != nil {
		t.Fatalf("StatusChanges on version 1: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("StatusChanges on version 1 (-want +got):\n%s", diff)
	}

	if v, err := db.Migrate(ctx); err != nil || v != schemaVersion {
		t.Fatalf("Migrate = %d, %v; want %d, nil", v, err, schemaVersion)
	}
	var legacy int
	if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM workspace_events WHERE seq = 1`).Scan(&legacy); err != nil || legacy != 0 {
		t.Errorf("creation events left after the migration: %d (%v), want 0", legacy, err)
	}
	got, err = db.StatusChanges(ctx, "acme", id)
	if err != nil {
		t.Fatalf("StatusChanges after the migration: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("StatusChanges after the migration (-want +got):\n%s", diff)
	}
	storetest.CheckVersion1Change(t, db, func(sql string) error {
		_, err := db.Pool().Exec(ctx, sql)
		return err
	})
}

func TestOpen_ConcurrentOpensOfFreshSchemaDoNotRace(t *testing.T) {
	url := pgtest.URL(t)
	schema := pgtest.Schema(t)
	const n = 5
	dbs := make([]*postgres.DB, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			dbs[i], errs[i] = postgres.Open(t.Context(), url, postgres.Options{Schema: schema})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
		} else {
			t.Cleanup(func() { dbs[i].Close() })
		}
	}
	if t.Failed() {
		return
	}
	counts, err := dbs[0].Counts(t.Context())
	if err != nil {
		t.Fatalf("Counts: %v", err)
	}
	want := map[string]int64{"schema_migrations": schemaVersion, "orgs": 0, "workspaces": 0, "workspace_secrets": 0,
		"org_secrets": 0, "tokens": 0, "workspace_events": 0, "audit": 0, "credential_checks": 0, "key_links": 0}
	if diff := cmp.Diff(want, counts); diff != "" {
		t.Errorf("Counts (-want +got):\n%s", diff)
	}
}

func TestOpen_ErrorsDoNotLeakThePassword(t *testing.T) {
	for _, url := range []string{
		"postgres://user:s3cr3t@127.0.0.1:notaport/db",
		"postgres://user:s3cr3t@127.0.0.1:1/db?connect_timeout=5",
	} {
		db, err := postgres.Open(t.Context(), url, postgres.Options{})
		if err == nil {
			db.Close()
			t.Fatalf("Open(%s) succeeded", url)
		}
		if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("Open error shows the password: %v", err)
		}
	}
}

// countingTracer counts the queries it sees, except the notifications that
// the DB sends on its own after CreateWorkspace (at a time of its choosing).
type countingTracer struct{ n atomic.Int64 }

func (c *countingTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if !strings.Contains(data.SQL, "pg_notify") {
		c.n.Add(1)
	}
	return ctx
}

func (c *countingTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func TestOptions_TracerSeesEveryQuery(t *testing.T) {
	ctx := t.Context()
	tracer := &countingTracer{}
	db := pgtest.Open(t, postgres.Options{Tracer: tracer})

	tracer.n.Store(0)
	if _, err := db.OrgSecretNames(ctx, "acme"); err != nil {
		t.Fatalf("OrgSecretNames: %v", err)
	}
	if got := tracer.n.Load(); got != 1 {
		t.Errorf("OrgSecretNames made %d queries, want 1 (the gate's one query)", got)
	}

	tracer.n.Store(0)
	_, err := db.GetWorkspace(ctx, "acme", "not-a-uuid")
	if modelgate.ErrorCode(err) != modelgate.ENotFound {
		t.Fatalf("GetWorkspace: %v, want NOT_FOUND", err)
	}
	if got := tracer.n.Load(); got != 0 {
		t.Errorf("GetWorkspace of a malformed id made %d queries, want none", got)
	}

	// CreateWorkspace is one statement; a repeated call with a key is one
	// read.
	nw := modelgate.NewWorkspace{Workspace: modelgate.Workspace{Org: "acme", Name: "w", Tier: 1, IdempotencyKey: "k"}}
	for _, call := range []string{"first", "repeated"} {
		tracer.n.Store(0)
		if _, _, err := db.CreateWorkspace(ctx, nw); err != nil {
			t.Fatalf("CreateWorkspace: %v", err)
		}
		want := int64(1)
		if call == "first" {
			want = 2 // the key lookup, then the insert
		}
		if got := tracer.n.Load(); got != want {
			t.Errorf("%s CreateWorkspace made %d queries, want %d", call, got, want)
		}
	}
	tracer.n.Store(0)
	if _, _, err := db.CreateWorkspace(ctx, modelgate.NewWorkspace{Workspace: modelgate.Workspace{Org: "acme", Name: "w2", Tier: 1}}); err != nil {
		t.Fatalf("CreateWorkspace: %v", err)
	}
	if got := tracer.n.Load(); got != 1 {
		t.Errorf("CreateWorkspace without a key made %d queries, want 1", got)
	}
}

// sqlTracer records the SQL of the statements it sees.
type sqlTracer struct {
	mu  sync.Mutex
	sql []string
}

func (tr *sqlTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	tr.mu.Lock()
	tr.sql = append(tr.sql, data.SQL)
	tr.mu.Unlock()
	return ctx
}

func (tr *sqlTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// insertsOrg reports whether a statement since the last call inserted into
// orgs, and forgets the statements.
func (tr *sqlTracer) insertsOrg() bool {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	found := false
	for _, sql := range tr.sql {
		found = found || strings.Contains(sql, "INSERT INTO orgs")
	}
	tr.sql = nil
	return found
}

// CreateWorkspace writes an org's row with its first workspace and leaves
// the org out of later statements, but only once the row is committed: a
// refused first insert must not let a later one skip the org (the integrity
// check at cleanup finds a workspace without its org).
func TestCreateWorkspace_InsertsTheOrgUntilItsRowIsCommitted(t *testing.T) {
	ctx := t.Context()
	schema := pgtest.Schema(t)
	tracer := &sqlTracer{}
	db := pgtest.Open(t, postgres.Options{Schema: schema, Tracer: tracer})
	create := func(org, name, parent string) error {
		_, _, err := db.CreateWorkspace(ctx, modelgate.NewWorkspace{Workspace: modelgate.Workspace{
			Org: org, Name: name, Tier: 1, ParentID: parent}})
		return err
	}
	tracer.insertsOrg()

	// The first insert of an org is refused (its parent does not exist).
	if err := create("acme", "a", "6926575e-f19f-4ac9-8fe2-96be7b84ba3f"); modelgate.ErrorCode(err) != modelgate.ENotFound {
		t.Fatalf("CreateWorkspace with a missing parent: %v, want NOT_FOUND", err)
	}
	if !tracer.insertsOrg() {
		t.Error("the first CreateWorkspace of an org did not insert the org")
	}
	for i, want := range []bool{true, false, false} {
		if err := create("acme", fmt.Sprintf("w%d", i), ""); err != nil {
			t.Fatalf("CreateWorkspace: %v", err)
		}
		if got := tracer.insertsOrg(); got != want {
			t.Errorf("CreateWorkspace %d of the org inserted the org: %v, want %v", i+1, got, want)
		}
	}

	// Another server on the same database learns the org on its own.
	other := &sqlTracer{}
	db2 := pgtest.Open(t, postgres.Options{Schema: schema, Tracer: other})
	for i, want := range []bool{true, false} {
		if _, _, err := db2.CreateWorkspace(ctx, modelgate.NewWorkspace{Workspace: modelgate.Workspace{
			Org: "acme", Name: fmt.Sprintf("other%d", i), Tier: 1}}); err != nil {
			t.Fatalf("CreateWorkspace on the other DB: %v", err)
		}
		if got := other.insertsOrg(); got != want {
			t.Errorf("CreateWorkspace %d on the other DB inserted the org: %v, want %v", i+1, got, want)
		}
	}
}

// listenOrgs starts ListenOrgs and returns the orgs it reports and a
// function that stops it and fails the test unless it returns nil.
func listenOrgs(t *testing.T, db *postgres.DB) (<-chan string, func()) {
	ctx, cancel := context.WithCancel(t.Context())
	orgs := make(chan string, 1000)
	done := make(chan error, 1)
	go func() { done <- db.ListenOrgs(ctx, func(org string) { orgs <- org }) }()
	stop := func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("ListenProvision returned %v, want nil", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("ListenProvision did not return")
		}
	}
	t.Cleanup(stop)
	return orgs, stop
}

// waitOrg receives from orgs until want arrives, and fails the test if
// one of the orgs in never arrives first.
func waitOrg(t *testing.T, orgs <-chan string, want string, never ...string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case org := <-orgs:
			if org == want {
				return
			}
			for _, n := range never {
				if org == n {
					t.Fatalf("notification for %q, which must not notify", org)
				}
			}
		case <-deadline:
			t.Fatalf("timed out waiting for a notification for %q", want)
		}
	}
}

func TestListenProvision_NotifiesTheOrgOfEachCreatedWorkspace(t *testing.T) {
	ctx := t.Context()
	db := pgtest.Open(t, postgres.Options{})
	orgs, _ := listenOrgs(t, db)
	waitOrg(t, orgs, "") // listening

	// Orgs unique to this test: other tests notify the same channel.
	org := "listen-" + uuid.NewString()
	nw := modelgate.NewWorkspace{Workspace: modelgate.Workspace{Org: org, Name: "w", Tier: 1, IdempotencyKey: "k"}}
	if _, _, err := db.CreateWorkspace(ctx, nw); err != nil {
		t.Fatalf("CreateWorkspace: %v", err)
	}
	waitOrg(t, orgs, org)

	// Calls that create nothing notify nothing. Notifications arrive in
	// commit order, so had they notified, it would show before the next.
	if _, created, err := db.CreateWorkspace(ctx, nw); err != nil || created {
		t.Fatalf("repeat CreateWorkspace: created=%v err=%v", created, err)
	}
	nw.Workspace.IdempotencyKey = ""
	if _, _, err := db.CreateWorkspace(ctx, nw); modelgate.ErrorCode(err) != modelgate.ENameConflict {
		t.Fatalf("CreateWorkspace of a taken name: %v", err)
	}
	next := "listen-" + uuid.NewString()
	if _, _, err := db.CreateWorkspace(ctx, modelgate.NewWorkspace{Workspace: modelgate.Workspace{Org: next, Name: "w", Tier: 1}}); err != nil {
		t.Fatalf("CreateWorkspace: %v", err)
	}
	waitOrg(t, orgs, next, org)
}

func TestListenProvision_ReconnectsAfterConnectionLoss(t *testing.T) {
	ctx := t.Context()
	schema := pgtest.Schema(t)
	db := pgtest.Open(t, postgres.Options{Schema: schema})
	orgs, _ := listenOrgs(t, db)
	waitOrg(t, orgs, "")

	var killed int
	if err := db.Pool().QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`,
		"modelgate-listen:"+schema).Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("terminated %d listener connections (%v), want 1", killed, err)
	}
	waitOrg(t, orgs, "") // listening again

	org := "listen-" + uuid.NewString()
	if _, _, err := db.CreateWorkspace(ctx, modelgate.NewWorkspace{Workspace: modelgate.Workspace{Org: org, Name: "w", Tier: 1}}); err != nil {
		t.Fatalf("CreateWorkspace: %v", err)
	}
	waitOrg(t, orgs, org)
}

func TestListenProvision_EndsWhenTheDBCloses(t *testing.T) {
	db, err := postgres.Open(t.Context(), pgtest.URL(t), postgres.Options{Schema: pgtest.Schema(t)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	wakes := make(chan struct{}, 100)
	done := make(chan error, 1)
	go func() { done <- db.ListenProvision(t.Context(), func() { wakes <- struct{}{} }) }()
	select {
	case <-wakes:
	case <-time.After(10 * time.Second):
		t.Fatal("no wake-up when listening started")
	}
	db.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ListenProvision = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ListenProvision did not return after Close")
	}
	if err := db.ListenProvision(t.Context(), nil); err == nil || errors.Is(err, context.Canceled) {
		t.Errorf("ListenProvision(nil) = %v, want an error", err)
	}
}

// TestListenOrgSecrets_HearsOnlyItsOwnSchema: the channel is the whole
// database's, and a change of org secrets in another schema (another
// deployment, another test) must not reach this schema's listeners.
// Notifications of one channel reach a listener in commit order, so once
// this schema's later change is heard, the other schema's earlier one would
// have been heard before it.
func TestListenOrgSecrets_HearsOnlyItsOwnSchema(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	other := pgtest.Open(t, postgres.Options{})
	schema := pgtest.Schema(t)
	writer := pgtest.Open(t, postgres.Options{Schema: schema})
	listener := pgtest.Open(t, postgres.Options{Schema: schema})

	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ups, heard := make(chan bool, 8), make(chan string, 64)
	go listener.ListenOrgSecrets(lctx, func(up bool) { ups <- up }, func(org string) { heard <- org })
	select {
	case up := <-ups:
		if !up {
			t.Fatal("the org secret feed reported down first")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the org secret feed did not come up in 10s")
	}

	secret := func(value string) modelgate.SealedSecret {
		return modelgate.SealedSecret{Name: "ANTHROPIC_API_KEY", Sealed: modelgate.Sealed{KeyID: "k1", Ciphertext: []byte(value)}}
	}
	if _, err := other.SetOrgSecret(ctx, "acme", secret("elsewhere"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := writer.SetOrgSecret(ctx, "zeta", secret("here"), 0); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case org := <-heard:
			if org == "zeta" {
				return
			}
			t.Fatalf("the listener heard %q, a change in another schema", org)
		case <-time.After(10 * time.Second):
			t.Fatal("the listener did not hear its own schema's change in 10s")
		}
	}
}
