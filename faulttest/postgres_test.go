package faulttest_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/modelgate/modelgate/internal/testlog"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/rs/zerolog"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/auth"
	"github.com/modelgate/modelgate/gate"
	"github.com/modelgate/modelgate/internal/pgcluster"
	"github.com/modelgate/modelgate/mcpserver"
	"github.com/modelgate/modelgate/postgres"
	"github.com/modelgate/modelgate/provision"
	"github.com/modelgate/modelgate/registry"
	"github.com/modelgate/modelgate/secrets"
	"github.com/modelgate/modelgate/tools"
)

const (
	org = "acme"
	// byokModel needs an anthropic-api key on claude-code. Every call
	// passes one as a workspace secret, so the gate allows it without a
	// query and the only database work of a call is its write (and the
	// audit entry).
	byokModel = "claude-sonnet-4-6"
	// canary is a secret value that must never reach a result or a log.
	canary = "sk-ant-canary-fault-3b7e91"
	// workers is how many clients provision at the same time: more than
	// the pool's connections, as under real load.
	workers = 8
	// waitBound bounds every wait of the test for the system's progress: it
	// fails a test whose system never recovers, not a slow one. How long
	// recovery and failing calls take is measured and logged (issue 6's
	// target, the first successful call within 2 s of PostgreSQL being back,
	// is checked against these numbers in docs/faults.md), never asserted:
	// a loaded machine must not fail a test of what the code does.
	waitBound = 15 * time.Second
)

// workspaceSecrets go with every provision call; every workspace row that
// exists afterwards must have all of them, with these values.
var workspaceSecrets = map[string]string{
	"ANTHROPIC_API_KEY": canary,
	"FAULT_TEST_A":      "value-a",
	"FAULT_TEST_B":      "value-b",
}

// genericInternal is the only message an INTERNAL result may carry: the
// detail goes to the log.
var genericInternal = modelgate.ErrorMessage(errors.New("any uncoded error"))

type testBundle struct {
	cluster *pgcluster.Cluster
	store   *postgres.DB
	keys    *secrets.Keyring
	// client calls the server in process, as org acme (ctx carries it).
	client *client.Client
	ctx    context.Context
	// url serves the same MCP server over streamable HTTP; token is an
	// acme token.
	url   string
	token string
	logs  *testlog.Buffer
}

// setup starts a PostgreSQL cluster of the test's own and serves modelgate
// on it as `mcp-server serve` would: the production pool settings and call
// timeout, an in-process client and the HTTP handler with /readyz.
func setup(t *testing.T) testBundle {
	t.Helper()
	b := testBundle{cluster: pgcluster.Start(t), logs: &testlog.Buffer{}}
	log := zerolog.New(b.logs)
	var err error
	b.store, err = postgres.Open(t.Context(), b.cluster.URL(), postgres.Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.store.Close() })
	key := make([]byte, secrets.KeySize)
	rand.Read(key)
	if b.keys, err = secrets.NewKeyring(key); err != nil {
		t.Fatal(err)
	}
	svc := provision.New(b.store, gate.New(registry.Default(), log), b.keys, log)
	s, err := mcpserver.New(mcpserver.Options{Deps: tools.Deps{Service: svc, Log: log}, Version: "test", ValidateOutput: true})
	if err != nil {
		t.Fatal(err)
	}
	h, err := mcpserver.NewHTTPHandler(s, mcpserver.HTTPOptions{
		Transport: mcpserver.TransportHTTP,
		Auth:      auth.New(b.store, auth.Options{Log: log}).Middleware,
		Ready:     b.store.Ping,
		Log:       log,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	b.url = srv.URL
	tok, prefix, hash, err := auth.NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.store.CreateToken(t.Context(), modelgate.Token{Prefix: prefix, Org: org, Name: "fault"}, hash); err != nil {
		t.Fatal(err)
	}
	b.token = tok

	b.client, err = client.NewInProcessClient(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.client.Close() })
	b.ctx = mcpserver.WithOrg(t.Context(), org)
	if err := b.client.Start(b.ctx); err != nil {
		t.Fatal(err)
	}
	init := mcp.InitializeRequest{}
	init.Params.ClientInfo = mcp.Implementation{Name: "fault-test", Version: "1"}
	if _, err := b.client.Initialize(b.ctx, init); err != nil {
		t.Fatalf("initialize: %v", err)
	}
	return b
}

// phase is where the fault injection stood when a call started.
type phase int32

const (
	before   phase = iota // PostgreSQL up, not yet stopped
	stopping              // pg_ctl stop running
	down                  // PostgreSQL stopped
	starting              // pg_ctl start running
	back                  // PostgreSQL accepting connections again
)

func (p phase) String() string {
	return [...]string{"before", "stopping", "down", "starting", "back"}[p]
}

// outcome is what one provision_workspace call returned.
type outcome struct {
	worker int
	name   string
	phase  phase
	start  time.Time
	took   time.Duration
	// id is the workspace of a successful call.
	id string
	// code and message are those of an error result.
	code, message string
	// err is a protocol or transport failure, or a result that breaks the
	// contract: never acceptable.
	err error
}

func (o outcome) ok() bool { return o.err == nil && o.id != "" }

// run is a run of concurrent provision calls while the test breaks and
// mends PostgreSQL.
type run struct {
	b     testBundle
	phase atomic.Int32
	seq   atomic.Int64

	mu       sync.Mutex
	outcomes []outcome
	// progress has a value when an outcome was recorded since it was
	// last drained.
	progress chan struct{}
	quit     chan struct{}
	wg       sync.WaitGroup
}

func (r *run) set(p phase) { r.phase.Store(int32(p)) }

// provision makes one provision_workspace call with the workspace secrets
// and records its outcome.
func (r *run) provision(worker int) outcome {
	o := outcome{worker: worker, name: fmt.Sprintf("fault-%d-%d", worker, r.seq.Add(1)), phase: phase(r.phase.Load()), start: time.Now()}
	req := mcp.CallToolRequest{}
	req.Params.Name = "provision_workspace"
	req.Params.Arguments = map[string]any{"name": o.name, "model": byokModel, "secrets": workspaceSecrets}
	res, err := r.b.client.CallTool(r.b.ctx, req)
	o.took = time.Since(o.start)
	o.err = err
	if err == nil {
		o.id, o.code, o.message, o.err = decode(res)
	}
	r.mu.Lock()
	r.outcomes = append(r.outcomes, o)
	r.mu.Unlock()
	select {
	case r.progress <- struct{}{}:
	default:
	}
	return o
}

// decode returns the workspace id of a successful result, or the code and
// message of an error result, or an error if res breaks the contract.
func decode(res *mcp.CallToolResult) (id, code, message string, err error) {
	raw, _ := json.Marshal(res)
	if bytes.Contains(raw, []byte(canary)) {
		return "", "", "", errors.New("a secret value came back in a result")
	}
	if len(res.Content) != 1 {
		return "", "", "", fmt.Errorf("%d content blocks, want 1", len(res.Content))
	}
	text, ok := mcp.AsTextContent(res.Content[0])
	if !ok {
		return "", "", "", errors.New("content is not text")
	}
	var obj struct {
		ID    string `json:"id"`
		Code  string `json:"code"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(text.Text), &obj); err != nil {
		return "", "", "", fmt.Errorf("text is not a JSON object: %q", text.Text)
	}
	switch {
	case res.IsError && obj.Code != "":
		return "", obj.Code, obj.Error, nil
	case !res.IsError && obj.ID != "":
		return obj.ID, "", "", nil
	}
	return "", "", "", fmt.Errorf("neither a workspace nor a coded error: %s", text.Text)
}

// worker provisions until the run ends.
func (r *run) worker(i int) {
	defer r.wg.Done()
	for {
		select {
		case <-r.quit:
			return
		default:
		}
		r.provision(i)
	}
}

// count returns how many outcomes so far satisfy pred.
func (r *run) count(pred func(outcome) bool) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, o := range r.outcomes {
		if pred(o) {
			n++
		}
	}
	return n
}

// waitFor waits, for at most waitBound, until cond holds, re-checking it
// whenever a call ends. It fails the test on timeout.
func (r *run) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	timeout := time.After(waitBound)
	for !cond() {
		select {
		case <-r.progress:
		case <-timeout:
			t.Fatalf("waited %s for %s", waitBound, what)
		}
	}
}

// TestPostgresStoppedMidRun_CallsFailFastThenTheSameProcessRecovers stops
// PostgreSQL (as a crash would, and cleanly) while eight clients provision
// workspaces with secrets, keeps calling while it is down, starts it again
// and checks what issue 6 asks: every call returned a success or a coded
// error, without detail while the database was down; /readyz
// followed the database; no workspace row lacks a secret or its audit
// entry, and every success is stored; and the same process serves again.
// The times it takes are logged as measurements.
func TestPostgresStoppedMidRun_CallsFailFastThenTheSameProcessRecovers(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{pgcluster.Immediate, pgcluster.Fast} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			stopMidRun(t, mode)
		})
	}
}

// stopMidRun is the test with pg_ctl's stop mode: immediate kills the
// server as a crash would, fast ends its sessions and shuts down cleanly.
func stopMidRun(t *testing.T, mode string) {
	b := setup(t)
	r := &run{b: b, progress: make(chan struct{}, 1), quit: make(chan struct{})}
	r.wg.Add(workers)
	for i := range workers {
		go r.worker(i)
	}
	stopWorkers := sync.OnceFunc(func() { close(r.quit); r.wg.Wait() })
	defer stopWorkers()

	r.waitFor(t, "20 workspaces before the stop", func() bool { return r.count(outcome.ok) >= 20 })
	if code := b.get(t, "/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz with PostgreSQL up: %d, want 200", code)
	}

	r.set(stopping)
	if err := b.cluster.Stop(mode); err != nil {
		t.Fatal(err)
	}
	r.set(down)
	r.waitFor(t, "5 calls per worker started while PostgreSQL was down", func() bool {
		return r.count(func(o outcome) bool { return o.phase == down }) >= 5*workers
	})
	if code := b.get(t, "/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with PostgreSQL down: %d, want 503", code)
	}
	// Over the network the token cannot be checked: 503, not a hang.
	started := time.Now()
	if code, _ := b.post(t, provisionBody("http-down")); code != http.StatusServiceUnavailable {
		t.Errorf("HTTP provision with PostgreSQL down: %d, want 503", code)
	}
	t.Logf("%s stop: HTTP provision with PostgreSQL down answered 503 in %s", mode, time.Since(started).Round(time.Millisecond))

	r.set(starting)
	startedAt := time.Now()
	if err := b.cluster.Start(); err != nil {
		t.Fatal(err)
	}
	backAt := time.Now()
	r.set(back)
	recovery, failed := r.probe(t, backAt)
	t.Logf("%s stop: first successful call %s after PostgreSQL was back (%d failed probes before it); pg_ctl start took %s; first success of any call %s after pg_ctl start began",
		mode, recovery.Round(time.Millisecond), failed, backAt.Sub(startedAt).Round(time.Millisecond), r.firstSuccessAfter(startedAt).Round(time.Millisecond))
	r.waitFor(t, "a successful call of every worker after the restart", func() bool {
		var n int
		for w := range workers {
			n += min(1, r.count(func(o outcome) bool { return o.worker == w && o.phase == back && o.ok() }))
		}
		return n == workers
	})
	b.waitReady(t)
	if code, body := b.post(t, provisionBody("http-back")); code != http.StatusOK || strings.Contains(body, `"isError":true`) {
		t.Errorf("HTTP provision after the restart: %d %s, want a workspace", code, body)
	}
	stopWorkers()

	r.checkOutcomes(t)
	r.checkRows(t)
	b.checkLogs(t)
}

// probe calls in a bounded loop until a call succeeds, and returns how long
// after backAt it did and how many calls failed before. PostgreSQL is back
// when pg_ctl start returns (pg_ctl polls every 100 ms, so it may have
// accepted connections a little earlier). It fails the test only if no call
// succeeds within waitBound.
func (r *run) probe(t *testing.T, backAt time.Time) (recovery time.Duration, failed int) {
	t.Helper()
	for ; ; failed++ {
		if o := r.provision(-1); o.ok() {
			break
		}
		if time.Since(backAt) > waitBound {
			t.Fatalf("no successful call within %s of PostgreSQL being back", waitBound)
		}
		time.Sleep(10 * time.Millisecond) // polls the pool's reconnection
	}
	return time.Since(backAt), failed
}

// TestPostgresRestartedWhileIdle_FirstCallsAfterItSucceed restarts
// PostgreSQL while no call runs, so the pool still holds the connections
// of the old server when the next call comes: they must not keep the
// process from serving.
func TestPostgresRestartedWhileIdle_FirstCallsAfterItSucceed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := &run{b: b, progress: make(chan struct{}, 1)}
	// Fill the pool: concurrent calls leave their connections idle in it.
	r.wg.Add(workers)
	for i := range workers {
		go func() { defer r.wg.Done(); r.provision(i) }()
	}
	r.wg.Wait()
	if n := r.count(outcome.ok); n != workers {
		t.Fatalf("%d of %d calls succeeded before the restart", n, workers)
	}
	idle := b.store.Pool().Stat().IdleConns()
	if err := b.cluster.Stop(pgcluster.Immediate); err != nil {
		t.Fatal(err)
	}
	if err := b.cluster.Start(); err != nil {
		t.Fatal(err)
	}
	backAt := time.Now()
	r.set(back)
	recovery, failed := r.probe(t, backAt)
	t.Logf("restart while idle: first successful call %s after PostgreSQL was back; %d calls failed before it (%d connections were idle in the pool)",
		recovery.Round(time.Millisecond), failed, idle)
	if failed > int(b.store.Pool().Config().MaxConns) {
		t.Errorf("%d calls failed after the restart, want at most one per pooled connection (%d)", failed, b.store.Pool().Config().MaxConns)
	}
	r.checkOutcomes(t)
	r.checkRows(t)
}

// firstSuccessAfter returns how long after t the first successful call
// that started after t ended.
func (r *run) firstSuccessAfter(t time.Time) time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	first := time.Duration(-1)
	for _, o := range r.outcomes {
		if o.ok() && o.start.After(t) {
			if d := o.start.Add(o.took).Sub(t); first < 0 || d < first {
				first = d
			}
		}
	}
	return first
}

// checkOutcomes checks every call: a success or a coded error, never a
// protocol error; an error is INTERNAL without detail; and none made while
// PostgreSQL was down succeeded (the waits of the test ensure some were
// made). It logs the slowest call of each phase as a measurement.
func (r *run) checkOutcomes(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	type tally struct {
		ok, internal int
		slowest      time.Duration
	}
	perPhase := map[phase]tally{}
	for _, o := range r.outcomes {
		n := perPhase[o.phase]
		n.slowest = max(n.slowest, o.took)
		switch {
		case o.err != nil:
			t.Errorf("call %s (%s): %v, want a success or an error result", o.name, o.phase, o.err)
		case o.ok():
			n.ok++
			if o.phase == down {
				t.Errorf("call %s succeeded while PostgreSQL was down", o.name)
			}
		default:
			n.internal++
			if o.code != modelgate.EInternal || o.message != genericInternal {
				t.Errorf("call %s (%s): %s %q, want INTERNAL %q", o.name, o.phase, o.code, o.message, genericInternal)
			}
		}
		perPhase[o.phase] = n
	}
	for p := before; p <= back; p++ {
		n := perPhase[p]
		t.Logf("calls started %-8s: %4d succeeded, %4d INTERNAL, slowest %s", p, n.ok, n.internal, n.slowest.Round(time.Microsecond))
	}
}

// checkRows checks the database after the run: every successful call's
// workspace is there, every workspace row has all its secrets (which open to
// the values sent) and the audit entry of its decision, and no secret or
// event row is left without its workspace.
func (r *run) checkRows(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	store := r.b.store
	rows := map[string]*modelgate.Workspace{}
	cursor := ""
	for {
		page, next, err := store.ListWorkspaces(ctx, org, modelgate.WorkspaceFilter{Limit: 200, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range page {
			rows[w.ID] = w
		}
		if cursor = next; cursor == "" {
			break
		}
	}
	r.mu.Lock()
	byName := map[string]outcome{}
	for _, o := range r.outcomes {
		byName[o.name] = o
		if o.ok() {
			if w := rows[o.id]; w == nil {
				t.Errorf("call %s succeeded with workspace %s, which is not stored", o.name, o.id)
			} else if w.Name != o.name {
				t.Errorf("call %s succeeded with workspace %s, which is named %s", o.name, o.id, w.Name)
			}
		}
	}
	r.mu.Unlock()
	wantNames := slices.Sorted(maps.Keys(workspaceSecrets))
	unacknowledged := 0
	for id, w := range rows {
		if o, ok := byName[w.Name]; ok && !o.ok() {
			unacknowledged++ // committed, but the answer was lost with the connection
		}
		sealed, err := store.WorkspaceSecrets(ctx, org, id)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, s := range sealed {
			names = append(names, s.Name)
			v, err := r.b.keys.Open(secrets.ScopeWorkspace, org+"/"+id, s.Name, s.Sealed)
			if err != nil || string(v) != workspaceSecrets[s.Name] {
				t.Errorf("workspace %s: secret %s does not open to the value sent (%v)", w.Name, s.Name, err)
			}
		}
		slices.Sort(names)
		if !slices.Equal(names, wantNames) {
			t.Errorf("workspace %s has secrets %v, want %v", w.Name, names, wantNames)
		}
	}
	for what, sql := range map[string]string{
		"secrets without their workspace": `SELECT count(*) FROM workspace_secrets s
			WHERE NOT EXISTS (SELECT 1 FROM workspaces w WHERE w.org = s.org AND w.id = s.workspace_id)`,
		"events without their workspace": `SELECT count(*) FROM workspace_events e
			WHERE NOT EXISTS (SELECT 1 FROM workspaces w WHERE w.org = e.org AND w.id = e.workspace_id)`,
	} {
		var n int
		if err := store.Pool().QueryRow(ctx, sql).Scan(&n); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if n != 0 {
			t.Errorf("%d %s", n, what)
		}
	}
	// The gate's decision is audited in the workspace's own statement, so
	// a stored workspace without its audit entry would be half-written.
	audit, err := store.ListAudit(ctx, org, time.Time{}, 100_000)
	if err != nil {
		t.Fatal(err)
	}
	audited := map[string]bool{}
	for _, e := range audit {
		if e.Allowed {
			audited[e.WorkspaceID] = true
		}
	}
	unaudited := 0
	for id, w := range rows {
		if !audited[id] {
			unaudited++
			t.Errorf("workspace %s is stored without the audit entry of its decision", w.Name)
		}
	}
	t.Logf("%d workspace rows, each with its %d secrets; %d committed although their call got an error (the answer was lost with the connection); %d without an audit entry",
		len(rows), len(wantNames), unacknowledged, unaudited)
}

// checkLogs checks that the failures were logged with their detail and
// that no secret value reached the log.
func (b testBundle) checkLogs(t *testing.T) {
	t.Helper()
	logs := b.logs.String()
	if strings.Contains(logs, canary) {
		t.Error("a secret value reached the log")
	}
	detailed := 0
	for line := range strings.Lines(logs) {

		var e struct {
			Message string `json:"message"`
			Error   string `json:"error"`
		}
		if json.Unmarshal([]byte(line), &e) == nil && e.Message == "tool call failed" && e.Error != "" && e.Error != genericInternal {
			detailed++
		}
	}
	if detailed == 0 {
		t.Error("no failed call was logged with its detail")
	}
}

// get requests path of the HTTP server and returns the status.
func (b testBundle) get(t *testing.T, path string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.url+path, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

// waitReady polls /readyz until it answers 200 (it pings PostgreSQL).
func (b testBundle) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(waitBound)
	for b.get(t, "/readyz") != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatalf("/readyz not 200 within %s of PostgreSQL being back", waitBound)
		}
		time.Sleep(20 * time.Millisecond) // polls the database's state
	}
}

// post sends a JSON-RPC request to /mcp with the bundle's token and
// returns the status and the body.
func (b testBundle) post(t *testing.T, body string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, b.url+"/mcp", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", mcp.ProtocolVersion20251125)
	req.Header.Set("Authorization", "Bearer "+b.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /mcp: %v", err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(out)
}

// provisionBody is a tools/call of provision_workspace named name, with
// the workspace secrets.
func provisionBody(name string) string {
	args, _ := json.Marshal(map[string]any{"name": name, "model": byokModel, "secrets": workspaceSecrets})
	return `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"provision_workspace","arguments":` + string(args) + `}}`
}
