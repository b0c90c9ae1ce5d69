package provisioner_test

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.uber.org/goleak"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/gate"
	"github.com/modelgate/modelgate/postgres"
	"github.com/modelgate/modelgate/postgres/pgtest"
	"github.com/modelgate/modelgate/provision"
	"github.com/modelgate/modelgate/provisioner"
	"github.com/modelgate/modelgate/registry"
	"github.com/modelgate/modelgate/secrets"
	"github.com/modelgate/modelgate/sqlite"
)

func TestMain(m *testing.M) {
	if command := os.Getenv(execHelperEnv); command != "" {
		execHelper(command) // this process plays a server (exec_linux_test.go)
		return
	}
	goleak.VerifyTestMain(m)
}

const (
	org = "acme"
	// platformModel needs no credential on claude-code.
	platformModel = "moonshot/kimi-k2.6"
	// byokModel is served by anthropic-api on claude-code, which accepts
	// ANTHROPIC_API_KEY and ANTHROPIC_AUTH_TOKEN.
	byokModel = "claude-sonnet-4-6"
)

var caller = modelgate.Caller{Org: org}

// storeKinds are the stores every lifecycle test runs on.
var storeKinds = []string{"sqlite", "postgres"}

// testBundle is what a test works with besides the provisioner.
type testBundle struct {
	kind    string
	store   modelgate.Store
	keys    *secrets.Keyring
	gate    *gate.Gate
	service *provision.Service
	driver  *recorder
	// finished receives every workspace the provisioner moved out of
	// provisioning (Options.OnFinish).
	finished chan *modelgate.Workspace
	// schema is the PostgreSQL schema ("" on sqlite), for more pools.
	schema string
}

// setup returns a provisioner over a fresh store of kind with a recording
// driver (that succeeds unless told otherwise) and fast test settings;
// change modifies the options before New.
func setup(t testing.TB, kind string, change func(*provisioner.Options)) (*provisioner.Provisioner, *testBundle) {
	t.Helper()
	b := newBundle(t, kind)
	return b.provisioner(t, b.store, change), b
}

func newBundle(t testing.TB, kind string) *testBundle {
	t.Helper()
	b := &testBundle{kind: kind, keys: testKeyring(t), driver: &recorder{}, finished: make(chan *modelgate.Workspace, 1000)}
	switch kind {
	case "sqlite":
		b.store = openSQLite(t)
	case "postgres":
		b.schema = pgtest.Schema(t)
		b.store = openPostgres(t, b.schema)
	default:
		t.Fatalf("unknown store %q", kind)
	}
	b.gate = gate.New(registry.Default(), zerolog.Nop())
	b.service = provision.New(b.store, b.gate, b.keys, zerolog.Nop())
	return b
}

// provisioner returns a provisioner of the bundle over store (the bundle's,
// or another pool on the same database).
func (b *testBundle) provisioner(t testing.TB, store modelgate.Store, change func(*provisioner.Options)) *provisioner.Provisioner {
	t.Helper()
	opts := provisioner.Options{
		Store:        store,
		Gate:         b.gate,
		Keys:         b.keys,
		Driver:       b.driver,
		Backoff:      func(int) time.Duration { return 0 },
		PollInterval: time.Hour, // tests wake provisioners explicitly
		Log:          testLogger(t),
		OnFinish:     func(w *modelgate.Workspace) { b.finished <- w },
	}
	if change != nil {
		change(&opts)
	}
	p, err := provisioner.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// provision creates a workspace through the service, as provision_workspace does.
func (b *testBundle) provision(t testing.TB, name, model string, wsSecrets map[string]string) *modelgate.Workspace {
	t.Helper()
	ctx := context.Background()
	res, err := b.service.Provision(ctx, caller, provision.Request{Name: name, Model: model, Secrets: wsSecrets})
	if err != nil {
		t.Fatalf("provision %s: %v", name, err)
	}
	w, err := b.store.GetWorkspace(ctx, org, res.ID)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (b *testBundle) setOrgSecret(t *testing.T, name, value string) {
	t.Helper()
	if _, err := b.service.SetOrgSecret(context.Background(), caller, name, value); err != nil {
		t.Fatal(err)
	}
}

func (b *testBundle) get(t *testing.T, id string) *modelgate.Workspace {
	t.Helper()
	w, err := b.store.GetWorkspace(context.Background(), org, id)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// waitFinished returns the next workspace the provisioner finished, failing
// the test if none comes within a generous bound.
func (b *testBundle) waitFinished(t testing.TB) *modelgate.Workspace {
	t.Helper()
	select {
	case w := <-b.finished:
		return w
	case <-time.After(20 * time.Second):
		t.Fatal("no workspace finished within 20s")
		return nil
	}
}

// runOnce runs p.RunOnce and fails the test on an error.
func runOnce(t *testing.T, p *provisioner.Provisioner) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := p.RunOnce(ctx)
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	return n
}

// start runs p.Run until the test ends (or stop is called) and returns stop,
// which cancels Run and waits for it to return.
func start(t testing.TB, p *provisioner.Provisioner) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// recorder is a Driver that records its calls and answers with fn (nil:
// success).
type recorder struct {
	mu    sync.Mutex
	calls map[string]int
	creds map[string]map[string]string
	seen  map[string]*modelgate.Workspace
	fn    func(ctx context.Context, w *modelgate.Workspace, creds map[string]string) error
}

func (r *recorder) Start(ctx context.Context, w *modelgate.Workspace, creds map[string]string) error {
	r.mu.Lock()
	if r.calls == nil {
		r.calls, r.creds, r.seen = map[string]int{}, map[string]map[string]string{}, map[string]*modelgate.Workspace{}
	}
	r.calls[w.ID]++
	r.creds[w.ID] = creds
	view := *w
	r.seen[w.ID] = &view
	fn := r.fn
	r.mu.Unlock()
	if fn != nil {
		return fn(ctx, w, creds)
	}
	return nil
}

func (r *recorder) callsOf(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[id]
}

func (r *recorder) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, c := range r.calls {
		n += c
	}
	return n
}

func testKeyring(t testing.TB) *secrets.Keyring {
	t.Helper()
	key := make([]byte, secrets.KeySize)
	rand.Read(key)
	k, err := secrets.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testLogger logs to the test's output, at warn level and above, so that a
// failing test shows what the provisioner complained about.
func testLogger(t testing.TB) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
}

func openSQLite(t testing.TB) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "modelgate.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// openPostgres opens a store (its own pool) on schema (from
// pgtest.Schema), as one provisioner process would; it is closed when the
// test ends, before the schema is dropped.
func openPostgres(t testing.TB, schema string) *postgres.DB {
	t.Helper()
	return pgtest.Open(t, postgres.Options{Schema: schema, MaxConns: 8})
}

// listen returns the store's ListenProvision.
func listen(s modelgate.Store) func(context.Context, func()) error {
	switch db := s.(type) {
	case *sqlite.DB:
		return db.ListenProvision
	case *postgres.DB:
		return db.ListenProvision
	}
	panic("store without ListenProvision")
}
