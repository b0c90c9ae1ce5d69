package provisioner_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/provisioner"
	"github.com/modelgate/modelgate/secrets"
)

// transitions returns the recorded (from, to, code) of a workspace.
func transitions(t *testing.T, b *testBundle, id string) []string {
	t.Helper()
	changes, err := b.store.StatusChanges(context.Background(), org, id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range changes {
		out = append(out, fmt.Sprintf("%s->%s %s", c.From, c.To, c.Code))
	}
	return out
}

func TestProvisioner_PlatformWorkspaceGoesOnlineAndTheChangeIsRecorded(t *testing.T) {
	t.Parallel()
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			p, b := setup(t, kind, nil)
			w := b.provision(t, "researcher", platformModel, nil)

			if n := runOnce(t, p); n != 1 {
				t.Fatalf("RunOnce handled %d workspaces, want 1", n)
			}
			got := b.get(t, w.ID)
			if got.Status != modelgate.StatusOnline || got.StatusCode != "" || got.Attempts != 1 {
				t.Fatalf("workspace is %s (%q, %d attempts), want online after 1 attempt", got.Status, got.StatusCode, got.Attempts)
			}
			if n := b.driver.callsOf(w.ID); n != 1 {
				t.Fatalf("driver called %d times, want 1", n)
			}
			if creds := b.driver.creds[w.ID]; len(creds) != 0 {
				t.Fatalf("a platform-billed workspace got credentials %v", keys(creds))
			}
			want := []string{"->provisioning ", "provisioning->online "}
			if diff := cmp.Diff(want, transitions(t, b, w.ID)); diff != "" {
				t.Fatalf("status changes (-want +got):\n%s", diff)
			}
			if f := b.waitFinished(t); f.ID != w.ID || f.Status != modelgate.StatusOnline {
				t.Fatalf("OnFinish got %s %s", f.ID, f.Status)
			}
		})
	}
}

func TestProvisioner_CredentialGoneSinceCreationFailsWithoutCallingTheDriver(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		vanish func(t *testing.T, b *testBundle)
	}{
		{"org key deleted", func(t *testing.T, b *testBundle) {
			if _, err := b.service.DeleteOrgSecret(context.Background(), caller, "ANTHROPIC_API_KEY"); err != nil {
				t.Fatal(err)
			}
		}},
		{"org key emptied", func(t *testing.T, b *testBundle) {
			// Only a store can hold an empty value; it must not count.
			sv, err := b.keys.Seal(secrets.ScopeOrg, org, "ANTHROPIC_API_KEY", nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := b.store.SetOrgSecret(context.Background(), org, modelgate.SealedSecret{Name: "ANTHROPIC_API_KEY", Sealed: sv}, 0); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, kind := range storeKinds {
		for _, c := range cases {
			t.Run(kind+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				p, b := setup(t, kind, nil)
				b.setOrgSecret(t, "ANTHROPIC_API_KEY", "sk-ant-org-value-1")
				w := b.provision(t, "coder", byokModel, nil)
				if w.CredentialScope != modelgate.ScopeOrg {
					t.Fatalf("created with scope %q, want org", w.CredentialScope)
				}
				c.vanish(t, b)

				runOnce(t, p)
				got := b.get(t, w.ID)
				if got.Status != modelgate.StatusFailed || got.StatusCode != modelgate.EMissingCredential {
					t.Fatalf("workspace is %s %q, want failed %s", got.Status, got.StatusCode, modelgate.EMissingCredential)
				}
				for _, want := range []string{"ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "set_org_secret", platformModel} {
					if !strings.Contains(got.StatusMessage, want) {
						t.Errorf("status message does not say what to add (%q missing): %s", want, got.StatusMessage)
					}
				}
				if n := b.driver.total(); n != 0 {
					t.Fatalf("driver called %d times; the backstop must stop the workspace before it", n)
				}
				if got.Attempts != 0 {
					t.Fatalf("%d attempts recorded, want 0", got.Attempts)
				}
				want := []string{"->provisioning ", "provisioning->failed " + modelgate.EMissingCredential}
				if diff := cmp.Diff(want, transitions(t, b, w.ID)); diff != "" {
					t.Fatalf("status changes (-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestProvisioner_UndecryptableSecretHoldsTheWorkspace (issue 11, finding
// 2): a secret sealed under a key the provisioner does not have is an
// operator fault, not a missing credential. The workspace stays
// provisioning with a status message naming the secret and the key id, the
// driver is not called, and once the provisioner has the key the workspace
// is retried and starts.
func TestProvisioner_UndecryptableSecretHoldsTheWorkspace(t *testing.T) {
	t.Parallel()
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			// A lease of a millisecond: the held row is claimable again at
			// once, so the retry below needs no waiting.
			p, b := setup(t, kind, func(o *provisioner.Options) {
				o.Lease, o.AttemptTimeout = time.Millisecond, 500*time.Microsecond
			})
			b.setOrgSecret(t, "ANTHROPIC_API_KEY", "sk-ant-org-value-2")
			w := b.provision(t, "coder", byokModel, nil)
			// Replace the value with one sealed by a key the provisioner lacks.
			other := testKeyring(t)
			sv, err := other.Seal(secrets.ScopeOrg, org, "ANTHROPIC_API_KEY", []byte("sk-ant-other-key"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := b.store.SetOrgSecret(context.Background(), org, modelgate.SealedSecret{Name: "ANTHROPIC_API_KEY", Sealed: sv}, 0); err != nil {
				t.Fatal(err)
			}

			runOnce(t, p)
			got := b.get(t, w.ID)
			if got.Status != modelgate.StatusProvisioning || got.StatusCode != "" ||
				!strings.Contains(got.StatusMessage, "ANTHROPIC_API_KEY") || !strings.Contains(got.StatusMessage, other.CurrentKeyID()) ||
				!strings.Contains(got.StatusMessage, "MODELGATE_SECRETS_PREVIOUS_KEYS") {
				t.Fatalf("got %s %q: %q; want provisioning, naming the secret, key id %s and how to give the key",
					got.Status, got.StatusCode, got.StatusMessage, other.CurrentKeyID())
			}
			if strings.Contains(got.StatusMessage, "sk-ant") {
				t.Fatal("the status message holds a secret value")
			}
			if b.driver.total() != 0 {
				t.Fatal("driver called")
			}

			// The operator gives the key: the next claim starts it.
			p2 := b.provisioner(t, b.store, func(o *provisioner.Options) { o.Keys = other })
			// The hold keeps the first claim's lease (a millisecond): claim
			// until it has run out, which takes a few attempts at most.
			claimed := 0
			for deadline := time.Now().Add(10 * time.Second); claimed == 0 && time.Now().Before(deadline); {
				if claimed = runOnce(t, p2); claimed == 0 {
					time.Sleep(time.Millisecond)
				}
			}
			if claimed != 1 {
				t.Fatalf("the held workspace was not claimed again (handled %d)", claimed)
			}
			if got := b.get(t, w.ID); got.Status != modelgate.StatusOnline {
				t.Fatalf("after the key was given: %s %q", got.Status, got.StatusMessage)
			}
			if v := b.driver.creds[w.ID]["ANTHROPIC_API_KEY"]; v != "sk-ant-other-key" {
				t.Fatalf("driver got %q", v)
			}
		})
	}
}

func TestProvisioner_DriverGetsTheCurrentDecisionAndOnlyAcceptedCredentials(t *testing.T) {
	t.Parallel()
	p, b := setup(t, "sqlite", nil)
	b.setOrgSecret(t, "ANTHROPIC_API_KEY", "org-api-key")
	b.setOrgSecret(t, "ANTHROPIC_AUTH_TOKEN", "org-auth-token")
	b.setOrgSecret(t, "OPENAI_API_KEY", "org-openai-key")
	w := b.provision(t, "coder", byokModel, map[string]string{
		"ANTHROPIC_API_KEY": "ws-api-key", // wins over the org's
		"GROQ_API_KEY":      "ws-groq-key",
	})

	runOnce(t, p)
	want := map[string]string{"ANTHROPIC_API_KEY": "ws-api-key", "ANTHROPIC_AUTH_TOKEN": "org-auth-token"}
	if diff := cmp.Diff(want, b.driver.creds[w.ID]); diff != "" {
		t.Fatalf("credentials (-want +got):\n%s", diff)
	}
	if seen := b.driver.seen[w.ID]; seen.Provider != "anthropic-api" || seen.Attempts != 1 {
		t.Fatalf("driver saw provider %q attempt %d", seen.Provider, seen.Attempts)
	}
}

func TestProvisioner_FailedAttemptIsRetriedAfterBackoff(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var pauses []int
	p, b := setup(t, "sqlite", func(o *provisioner.Options) {
		o.MaxAttempts = 5
		o.Backoff = func(n int) time.Duration {
			mu.Lock()
			defer mu.Unlock()
			pauses = append(pauses, n)
			return time.Millisecond
		}
	})
	b.driver.fn = func(_ context.Context, w *modelgate.Workspace, _ map[string]string) error {
		if w.Attempts < 3 {
			return errors.New("not yet")
		}
		return nil
	}
	w := b.provision(t, "flaky", platformModel, nil)

	runOnce(t, p)
	got := b.get(t, w.ID)
	if got.Status != modelgate.StatusOnline || got.Attempts != 3 {
		t.Fatalf("workspace is %s after %d attempts, want online after 3", got.Status, got.Attempts)
	}
	if diff := cmp.Diff([]int{1, 2}, pauses); diff != "" {
		t.Fatalf("backoff calls (-want +got):\n%s", diff)
	}
}

func TestProvisioner_LastFailedAttemptFailsWithDriverFailedAndTheError(t *testing.T) {
	t.Parallel()
	p, b := setup(t, "sqlite", func(o *provisioner.Options) { o.MaxAttempts = 3 })
	b.driver.fn = func(_ context.Context, w *modelgate.Workspace, _ map[string]string) error {
		return fmt.Errorf("boom %d", w.Attempts)
	}
	w := b.provision(t, "doomed", platformModel, nil)

	runOnce(t, p)
	got := b.get(t, w.ID)
	if got.Status != modelgate.StatusFailed || got.StatusCode != provisioner.CodeDriverFailed || got.Attempts != 3 {
		t.Fatalf("workspace is %s %q after %d attempts, want failed DRIVER_FAILED after 3", got.Status, got.StatusCode, got.Attempts)
	}
	if !strings.Contains(got.StatusMessage, "boom 3") {
		t.Fatalf("status message lacks the last error: %s", got.StatusMessage)
	}
	if n := b.driver.callsOf(w.ID); n != 3 {
		t.Fatalf("driver called %d times, want 3", n)
	}
}

func TestProvisioner_DriverErrorIsRedactedOfEveryDecryptedValue(t *testing.T) {
	t.Parallel()
	p, b := setup(t, "sqlite", func(o *provisioner.Options) { o.MaxAttempts = 1 })
	b.setOrgSecret(t, "OPENAI_API_KEY", "org-openai-not-passed")
	b.driver.fn = func(_ context.Context, _ *modelgate.Workspace, creds map[string]string) error {
		// A careless driver quotes a passed value and one it could only
		// have found elsewhere.
		return fmt.Errorf("bad key %s (also tried org-openai-not-passed)", creds["ANTHROPIC_API_KEY"])
	}
	w := b.provision(t, "leaky", byokModel, map[string]string{"ANTHROPIC_API_KEY": "sk-ant-ws-secret"})

	runOnce(t, p)
	got := b.get(t, w.ID)
	for _, v := range []string{"sk-ant-ws-secret", "org-openai-not-passed"} {
		if strings.Contains(got.StatusMessage, v) {
			t.Fatalf("status message leaks a secret: %s", got.StatusMessage)
		}
	}
	if !strings.Contains(got.StatusMessage, "bad key [REDACTED]") {
		t.Fatalf("status message: %s", got.StatusMessage)
	}
}

// A driver that prints a key the way its language quotes it (JSON, a URL, a
// shell command line) must not put the key into the status message, which
// any token of the org can read, nor into the log.
func TestProvisioner_EscapedSecretIsRedactedInTheStatusMessageAndTheLog(t *testing.T) {
	t.Parallel()
	const key = `CANARY"x\_7/?&'`
	var logged strings.Builder
	var logMu sync.Mutex
	p, b := setup(t, "sqlite", func(o *provisioner.Options) {
		o.MaxAttempts = 2
		o.Log = zerolog.New(writerFunc(func(p []byte) (int, error) {
			logMu.Lock()
			defer logMu.Unlock()
			return logged.Write(p)
		}))
	})
	b.driver.fn = func(_ context.Context, _ *modelgate.Workspace, creds map[string]string) error {
		body, _ := json.Marshal(map[string]string{"key": creds["ANTHROPIC_API_KEY"]})
		return fmt.Errorf("request %s to https://api.example/?key=%s failed; retry with curl -H 'x-api-key: %s'",
			body, url.QueryEscape(creds["ANTHROPIC_API_KEY"]), strings.ReplaceAll(creds["ANTHROPIC_API_KEY"], "'", `'\''`))
	}
	w := b.provision(t, "escaped", byokModel, map[string]string{"ANTHROPIC_API_KEY": key})

	runOnce(t, p)
	got := b.get(t, w.ID)
	want := `request {"key":"[REDACTED]"} to https://api.example/?key=[REDACTED] failed; retry with curl -H 'x-api-key: [REDACTED]'`
	if !strings.Contains(got.StatusMessage, want) {
		t.Fatalf("status message = %s\nwant it to contain %s", got.StatusMessage, want)
	}
	logMu.Lock()
	defer logMu.Unlock()
	if !strings.Contains(logged.String(), "driver attempt failed") {
		t.Fatalf("the failed attempt was not logged: %s", logged.String())
	}
	for _, leak := range []string{"CANARY"} {
		if strings.Contains(got.StatusMessage, leak) || strings.Contains(logged.String(), leak) {
			t.Fatalf("status message or log holds the key:\n%s\n%s", got.StatusMessage, logged.String())
		}
	}
	if !strings.Contains(logged.String(), "workspace status changed") {
		t.Fatalf("the status change was not logged: %s", logged.String())
	}
	for line := range strings.Lines(logged.String()) {
		checkUniqueKeys(t, line)
	}
}

// checkUniqueKeys fails the test if the JSON object of a log line names a
// key twice: a log reader keeps one of the two values and loses the other
// (zerolog's own "message" beside a field named "message", say).
func checkUniqueKeys(t *testing.T, line string) {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("log line is not a JSON object: %q", line)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		key := tok.(string)
		if seen[key] {
			t.Errorf("log line names %q twice: %s", key, line)
		}
		seen[key] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
	}
}

// writerFunc is an io.Writer made of a function.
type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// A status message cannot hold NUL, so the provisioner removes NULs; a value
// that NULs split (UTF-16 text, as some tools print) must not come out of
// that whole and unredacted.
func TestProvisioner_SecretSplitByNULBytesIsRedactedInTheStatusMessage(t *testing.T) {
	t.Parallel()
	p, b := setup(t, "sqlite", func(o *provisioner.Options) { o.MaxAttempts = 1 })
	b.driver.fn = func(_ context.Context, _ *modelgate.Workspace, creds map[string]string) error {
		var utf16 strings.Builder
		for _, c := range creds["ANTHROPIC_API_KEY"] {
			utf16.WriteRune(c)
			utf16.WriteByte(0)
		}
		return fmt.Errorf("bad key %s", utf16.String())
	}
	w := b.provision(t, "utf16", byokModel, map[string]string{"ANTHROPIC_API_KEY": "sk-ant-ws-secret"})

	runOnce(t, p)
	got := b.get(t, w.ID)
	if got.Status != modelgate.StatusFailed {
		t.Fatalf("workspace is %s, want failed", got.Status)
	}
	if strings.Contains(got.StatusMessage, "sk-ant-ws-secret") {
		t.Fatalf("status message leaks a secret: %s", got.StatusMessage)
	}
	if !strings.Contains(got.StatusMessage, "bad key [REDACTED]") {
		t.Fatalf("status message: %s", got.StatusMessage)
	}
}

func TestProvisioner_RunWakesOnANewWorkspaceWithoutPolling(t *testing.T) {
	t.Parallel()
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			b := newBundle(t, kind)
			p := b.provisioner(t, b.store, func(o *provisioner.Options) {
				o.Wake = listen(b.store)
				o.PollInterval = time.Hour
			})
			start(t, p)
			for i := range 3 {
				w := b.provision(t, fmt.Sprintf("ws-%d", i), platformModel, nil)
				f := b.waitFinished(t)
				if f.ID != w.ID || f.Status != modelgate.StatusOnline {
					t.Fatalf("finished %s as %s, want %s online", f.ID, f.Status, w.ID)
				}
			}
		})
	}
}

func TestProvisioner_TimeoutSweeperFailsWorkspacesStillProvisioning(t *testing.T) {
	t.Parallel()
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			b := newBundle(t, kind)
			stale := b.provision(t, "stale", platformModel, nil)
			fresh := b.provision(t, "fresh", platformModel, nil)
			if !fresh.CreatedAt.After(stale.CreatedAt.Add(time.Microsecond)) {
				t.Skip("both workspaces were created in the same microsecond")
			}
			timeout := 10 * time.Minute
			p := b.provisioner(t, b.store, func(o *provisioner.Options) {
				o.ProvisionTimeout = timeout
				// The clock reads just past the stale workspace's deadline.
				o.Now = func() time.Time { return stale.CreatedAt.Add(timeout + time.Microsecond) }
			})

			runOnce(t, p)
			got := b.get(t, stale.ID)
			if got.Status != modelgate.StatusFailed || got.StatusCode != provisioner.CodeProvisionTimeout {
				t.Fatalf("stale workspace is %s %q, want failed PROVISION_TIMEOUT", got.Status, got.StatusCode)
			}
			if !strings.Contains(got.StatusMessage, "10m0s") {
				t.Fatalf("status message does not give the timeout: %s", got.StatusMessage)
			}
			if b.driver.callsOf(stale.ID) != 0 {
				t.Fatal("a timed-out workspace was started")
			}
			if got := b.get(t, fresh.ID); got.Status != modelgate.StatusOnline {
				t.Fatalf("fresh workspace is %s, want online", got.Status)
			}
			want := []string{"->provisioning ", "provisioning->failed " + provisioner.CodeProvisionTimeout}
			if diff := cmp.Diff(want, transitions(t, b, stale.ID)); diff != "" {
				t.Fatalf("status changes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestProvisioner_ExactlyOnceAcrossThreeProvisionersOnPostgres(t *testing.T) {
	t.Parallel()
	const workspaces, provisioners = 200, 3
	b := newBundle(t, "postgres")
	var mu sync.Mutex
	byOwner := map[string]int{}
	for i := range provisioners {
		// Each provisioner has its own pool, as if in its own process.
		store := openPostgres(t, b.schema)
		owner := fmt.Sprintf("p%d", i)
		p := b.provisioner(t, store, func(o *provisioner.Options) {
			o.Owner = owner
			o.Workers, o.Batch = 4, 3
			o.Wake = listen(store)
			o.OnFinish = func(w *modelgate.Workspace) {
				mu.Lock()
				byOwner[owner]++
				mu.Unlock()
				b.finished <- w
			}
		})
		start(t, p)
	}
	// Workspaces are created while the provisioners run, so claims race
	// with inserts and with each other.
	ids := make([]string, workspaces)
	for i := range workspaces {
		ids[i] = b.provision(t, fmt.Sprintf("ws-%03d", i), platformModel, nil).ID
	}
	for range workspaces {
		b.waitFinished(t)
	}

	for _, id := range ids {
		if n := b.driver.callsOf(id); n != 1 {
			t.Errorf("workspace %s: driver called %d times, want exactly 1", id, n)
		}
		if got := b.get(t, id); got.Status != modelgate.StatusOnline || got.Attempts != 1 {
			t.Errorf("workspace %s is %s after %d attempts", id, got.Status, got.Attempts)
		}
	}
	if n := b.driver.total(); n != workspaces {
		t.Errorf("driver called %d times in all, want %d", n, workspaces)
	}
	t.Logf("workspaces finished per provisioner: %v", byOwner)
}

func TestProvisioner_KilledProvisionersJobIsFinishedByAnotherAfterItsLease(t *testing.T) {
	t.Parallel()
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			b := newBundle(t, kind)
			started := make(chan struct{})
			a := b.provisioner(t, b.store, func(o *provisioner.Options) {
				o.Owner = "a"
				o.Lease, o.AttemptTimeout = 400*time.Millisecond, 300*time.Millisecond
				o.Wake = listen(b.store)
				o.Driver = provisioner.DriverFunc(func(ctx context.Context, _ *modelgate.Workspace, _ map[string]string) error {
					close(started)
					<-ctx.Done() // hangs until A dies
					return ctx.Err()
				})
			})
			stopA := start(t, a)
			w := b.provision(t, "survivor", platformModel, nil)
			<-started
			stopA() // A dies mid-job, without finishing

			if got := b.get(t, w.ID); got.Status != modelgate.StatusProvisioning || got.Attempts != 1 {
				t.Fatalf("after A died the workspace is %s with %d attempts, want provisioning with 1", got.Status, got.Attempts)
			}
			bp := b.provisioner(t, b.store, func(o *provisioner.Options) {
				o.Owner = "b"
				o.PollInterval = 20 * time.Millisecond // A's lease expires silently
			})
			start(t, bp)
			f := b.waitFinished(t)
			if f.ID != w.ID || f.Status != modelgate.StatusOnline || f.Attempts != 2 {
				t.Fatalf("B finished %s as %s after %d attempts, want %s online after 2", f.ID, f.Status, f.Attempts, w.ID)
			}
			want := []string{"->provisioning ", "provisioning->online "}
			if diff := cmp.Diff(want, transitions(t, b, w.ID)); diff != "" {
				t.Fatalf("status changes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestProvisioner_CrashedClaimIsTakenOverAfterItsLease(t *testing.T) {
	t.Parallel()
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			p, b := setup(t, kind, func(o *provisioner.Options) { o.PollInterval = 20 * time.Millisecond })
			w := b.provision(t, "orphan", platformModel, nil)
			// A provisioner claims the row and crashes before doing anything.
			claimed, err := b.store.ClaimWorkspaces(context.Background(), "crashed", 100*time.Millisecond, 10)
			if err != nil || len(claimed) != 1 {
				t.Fatalf("claim: %v, %d rows", err, len(claimed))
			}
			if n := runOnce(t, p); n != 0 {
				t.Fatalf("RunOnce took a row under a live lease (%d handled)", n)
			}
			start(t, p)
			if f := b.waitFinished(t); f.ID != w.ID || f.Status != modelgate.StatusOnline {
				t.Fatalf("finished %s as %s", f.ID, f.Status)
			}
		})
	}
}

func TestProvisioner_AttemptsUsedUpBeforeACrashFailTheWorkspace(t *testing.T) {
	t.Parallel()
	p, b := setup(t, "sqlite", func(o *provisioner.Options) {
		o.MaxAttempts = 2
		o.PollInterval = 20 * time.Millisecond
	})
	w := b.provision(t, "unlucky", platformModel, nil)
	ctx := context.Background()
	claimed, err := b.store.ClaimWorkspaces(ctx, "crashed", 50*time.Millisecond, 1)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v, %d rows", err, len(claimed))
	}
	for range 2 {
		if err := b.store.RecordAttempt(ctx, "crashed", claimed[0]); err != nil {
			t.Fatal(err)
		}
	}

	start(t, p)
	f := b.waitFinished(t)
	if f.ID != w.ID || f.StatusCode != provisioner.CodeDriverFailed || !strings.Contains(f.StatusMessage, "lost") {
		t.Fatalf("finished %s as %s %q: %s", f.ID, f.Status, f.StatusCode, f.StatusMessage)
	}
	if b.driver.total() != 0 {
		t.Fatal("driver called beyond --max-attempts")
	}
}

func TestProvisioner_WorkspaceRemovedDuringAnAttemptStaysRemoved(t *testing.T) {
	t.Parallel()
	p, b := setup(t, "sqlite", nil)
	b.driver.fn = func(ctx context.Context, w *modelgate.Workspace, _ map[string]string) error {
		_, err := b.service.Deprovision(ctx, caller, w.ID, w.Name)
		return err
	}
	w := b.provision(t, "short-lived", platformModel, nil)

	runOnce(t, p)
	if got := b.get(t, w.ID); got.Status != modelgate.StatusRemoved {
		t.Fatalf("workspace is %s, want removed", got.Status)
	}
	select {
	case f := <-b.finished:
		t.Fatalf("OnFinish reported %s %s for a removed workspace", f.ID, f.Status)
	default:
	}
}

// slowAttempts is a store under load: RecordAttempt answers after delay.
// It notes when the last claim began, before which no lease can start.
type slowAttempts struct {
	modelgate.Store
	delay      time.Duration
	mu         sync.Mutex
	claimBegan time.Time
}

func (s *slowAttempts) ClaimWorkspaces(ctx context.Context, owner string, lease time.Duration, limit int) ([]*modelgate.Workspace, error) {
	s.mu.Lock()
	s.claimBegan = time.Now()
	s.mu.Unlock()
	return s.Store.ClaimWorkspaces(ctx, owner, lease, limit)
}

func (s *slowAttempts) RecordAttempt(ctx context.Context, owner string, w *modelgate.Workspace) error {
	time.Sleep(s.delay) // the latency of a busy store, not synchronisation
	return s.Store.RecordAttempt(ctx, owner, w)
}

// The lease is the only thing that keeps another provisioner from running
// the driver for the same workspace, so an attempt must end before it
// expires, however long recording the attempt took.
func TestProvisioner_AttemptEndsWithinTheLeaseEvenWhenTheStoreIsSlow(t *testing.T) {
	t.Parallel()
	b := newBundle(t, "sqlite")
	const lease = 200 * time.Millisecond
	store := &slowAttempts{Store: b.store, delay: 100 * time.Millisecond}
	var attemptEnds time.Time
	p := b.provisioner(t, store, func(o *provisioner.Options) {
		o.Lease, o.AttemptTimeout, o.MaxAttempts = lease, 150*time.Millisecond, 1
		o.Driver = provisioner.DriverFunc(func(ctx context.Context, _ *modelgate.Workspace, _ map[string]string) error {
			attemptEnds, _ = ctx.Deadline()
			return nil
		})
	})
	b.provision(t, "busy", platformModel, nil)

	runOnce(t, p)
	if leaseEnds := store.claimBegan.Add(lease); attemptEnds.After(leaseEnds) {
		t.Fatalf("the attempt may run until %s after the lease expired", attemptEnds.Sub(leaseEnds))
	}
}

func TestProvisioner_RunReturnsAfterCancelWithoutLeaks(t *testing.T) {
	t.Parallel()
	b := newBundle(t, "sqlite")
	release := make(chan struct{})
	p := b.provisioner(t, b.store, func(o *provisioner.Options) {
		o.Wake = listen(b.store)
		o.Driver = provisioner.DriverFunc(func(ctx context.Context, _ *modelgate.Workspace, _ map[string]string) error {
			close(release)
			<-ctx.Done()
			return ctx.Err()
		})
	})
	stop := start(t, p)
	b.provision(t, "in-flight", platformModel, nil)
	<-release
	stop() // must return: the attempt is cancelled and Run waits for it
}

func TestNew_RefusesIncompleteOrInconsistentOptions(t *testing.T) {
	t.Parallel()
	b := newBundle(t, "sqlite")
	valid := func() provisioner.Options {
		return provisioner.Options{Store: b.store, Gate: b.gate, Keys: b.keys, Driver: b.driver}
	}
	cases := map[string]func(*provisioner.Options){
		"no store":                   func(o *provisioner.Options) { o.Store = nil },
		"no gate":                    func(o *provisioner.Options) { o.Gate = nil },
		"no keys":                    func(o *provisioner.Options) { o.Keys = nil },
		"no driver":                  func(o *provisioner.Options) { o.Driver = nil },
		"negative lease":             func(o *provisioner.Options) { o.Lease = -time.Second },
		"attempt longer than lease":  func(o *provisioner.Options) { o.Lease, o.AttemptTimeout = time.Minute, time.Minute },
		"attempt eats lease margins": func(o *provisioner.Options) { o.Lease, o.AttemptTimeout = 10*time.Second, 9500*time.Millisecond },
	}
	for name, change := range cases {
		o := valid()
		change(&o)
		if _, err := provisioner.New(o); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
	if _, err := provisioner.New(valid()); err != nil {
		t.Fatalf("defaults: %v", err)
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestProvisioner_OrgKeyAloneStartsTheWorkspace is the common case: a BYOK
// workspace created with no workspace secret, its key stored for the org.
// The backstop finds the org key and the driver gets exactly that value.
func TestProvisioner_OrgKeyAloneStartsTheWorkspace(t *testing.T) {
	t.Parallel()
	for _, kind := range storeKinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			p, b := setup(t, kind, nil)
			b.setOrgSecret(t, "ANTHROPIC_API_KEY", "sk-ant-org-only")
			w := b.provision(t, "coder", byokModel, nil)
			runOnce(t, p)
			got := b.get(t, w.ID)
			if got.Status != modelgate.StatusOnline {
				t.Fatalf("workspace is %s %q: %s", got.Status, got.StatusCode, got.StatusMessage)
			}
			if creds := b.driver.creds[w.ID]; len(creds) != 1 || creds["ANTHROPIC_API_KEY"] != "sk-ant-org-only" {
				t.Fatalf("driver got credentials %v, want the org's ANTHROPIC_API_KEY", keys(creds))
			}
		})
	}
}
