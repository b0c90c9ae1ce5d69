package provision_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/provision"
	"github.com/rs/zerolog"
)

// readSignalingStore tells the test each time Wait reads the workspace,
// and passes the store's status signals on.
type readSignalingStore struct {
	counter
	reads chan string // the status read, one per GetWorkspace
}

func (s readSignalingStore) GetWorkspace(ctx context.Context, org, id string) (*modelgate.Workspace, error) {
	w, err := s.counter.GetWorkspace(ctx, org, id)
	if err == nil {
		s.reads <- w.Status
	}
	return w, err
}

func (s readSignalingStore) ListenStatus(ctx context.Context, changed func(id string)) error {
	return s.counter.(modelgate.StatusListener).ListenStatus(ctx, changed)
}

// wait_seconds must not poll the store (issue 11): the waiter is woken by
// the store's signal that the workspace's status changed, the one
// provisioners are woken by (LISTEN/NOTIFY, in-process on SQLite). The slow
// poll and wait_seconds are set to an hour here, and the call's context ends
// after a minute (a waiter whose context ends answers with the last state it
// read, without reading again): a wait that returns the new status was woken
// by the signal.
func TestWait_StatusChangeWakesTheWaiterWithoutPolling(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b testBundle) {
		ctx := t.Context()
		store := readSignalingStore{counter: b.store, reads: make(chan string, 16)}
		svc := newService(t, store, zerolog.Nop())
		provision.SetWaitPoll(svc, time.Hour)
		res, err := svc.Provision(ctx, b.caller, provision.Request{Name: "w", Model: "moonshot/kimi-k2.6"})
		if err != nil {
			t.Fatal(err)
		}
		id := res.ID

		type result struct {
			w   *modelgate.Workspace
			err error
		}
		done := make(chan result, 1)
		go func() {
			callCtx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			w, err := svc.Wait(callCtx, b.caller, id, time.Hour, nil)
			done <- result{w, err}
		}()
		if got := <-store.reads; got != modelgate.StatusProvisioning {
			t.Fatalf("first read: %s, want provisioning", got)
		}
		// Now the waiter waits; a provisioner finishes the workspace.
		claimed, err := b.store.ClaimWorkspaces(ctx, "p1", time.Minute, 10)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("claim: %v, %v", claimed, err)
		}
		if err := b.store.FinishWorkspace(ctx, "p1", claimed[0], modelgate.StatusOnline, "", ""); err != nil {
			t.Fatal(err)
		}
		r := <-done
		if r.err != nil || r.w.Status != modelgate.StatusOnline {
			t.Fatalf("Wait = %v, %v; want online, woken by the change", r.w, r.err)
		}
		// The first read, perhaps one when the listener started, one after
		// the change.
		if n := 1 + len(store.reads); n > 3 {
			t.Errorf("Wait read the workspace %d times, want at most 3", n)
		}
	})
}

// A provisioning workspace says whether a provisioner has tried it yet:
// "waiting" only until its first attempt.
func TestGet_ProvisioningWorkspaceSaysWhetherItsDriverWasTried(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, b testBundle) {
		ctx := t.Context()
		res, err := b.svc.Provision(ctx, b.caller, provision.Request{Name: "w", Model: "moonshot/kimi-k2.6"})
		if err != nil {
			t.Fatal(err)
		}
		if w, err := b.svc.Get(ctx, b.caller, res.ID); err != nil || w.StatusMessage != provision.WaitingMessage {
			t.Fatalf("before any attempt: %v, %v; want %q", w, err, provision.WaitingMessage)
		}
		claimed, err := b.store.ClaimWorkspaces(ctx, "p1", time.Minute, 10)
		if err != nil || len(claimed) != 1 {
			t.Fatalf("claim: %v, %v", claimed, err)
		}
		for range 2 {
			if err := b.store.RecordAttempt(ctx, "p1", claimed[0]); err != nil {
				t.Fatal(err)
			}
		}
		w, err := b.svc.Get(ctx, b.caller, res.ID)
		if want := fmt.Sprintf(provision.StartingMessage, 2); err != nil || w.StatusMessage != want {
			t.Fatalf("after two attempts: %v, %v; want %q", w, err, want)
		}
	})
}
