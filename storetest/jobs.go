package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/modelgate/modelgate"
)

func claim(t *testing.T, s modelgate.Store, owner string, lease time.Duration, limit int) []*modelgate.Workspace {
	t.Helper()
	ws, err := s.ClaimWorkspaces(t.Context(), owner, lease, limit)
	if err != nil {
		t.Fatalf("ClaimWorkspaces(%s): %v", owner, err)
	}
	return ws
}

func testClaimConcurrent(t *testing.T, s modelgate.Store) {
	const rows, claimers = 40, 6
	var all []*modelgate.Workspace
	for i := range rows {
		all = append(all, create(t, s, newWorkspace(fmt.Sprintf("org%d", i%3), fmt.Sprintf("w%02d", i))))
	}
	var mu sync.Mutex
	owners := map[string]string{} // workspace id → owner
	concurrently(claimers, func(i int) {
		owner := fmt.Sprintf("provisioner-%d", i)
		for {
			ws, err := s.ClaimWorkspaces(t.Context(), owner, time.Hour, 3)
			if err != nil {
				t.Errorf("ClaimWorkspaces(%s): %v", owner, err)
				return
			}
			if len(ws) == 0 {
				return
			}
			mu.Lock()
			for _, w := range ws {
				if prev, ok := owners[w.ID]; ok {
					t.Errorf("workspace %s claimed by %s and %s", w.ID, prev, owner)
				}
				owners[w.ID] = owner
			}
			mu.Unlock()
		}
	})
	if len(owners) != rows {
		t.Errorf("%d workspaces claimed, want %d", len(owners), rows)
	}
	if ws := claim(t, s, "late", time.Hour, rows); len(ws) != 0 {
		t.Errorf("a workspace under a live lease was claimed again: %v", ids(ws))
	}
}

func testClaimOrder(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	var ws []*modelgate.Workspace
	for i := range 5 {
		ws = append(ws, create(t, s, newWorkspace(fmt.Sprintf("org%d", i%2), fmt.Sprintf("w%d", i))))
	}
	sortOldestFirst(ws)
	if _, err := s.DeprovisionWorkspace(ctx, ws[1].Org, ws[1].ID, ws[1].Name); err != nil {
		t.Fatalf("DeprovisionWorkspace: %v", err)
	}

	// Claiming changes nothing a user sees.
	first := claim(t, s, "a", time.Hour, 1)
	if diff := cmp.Diff([]*modelgate.Workspace{ws[0]}, first); diff != "" {
		t.Errorf("first claim (-oldest +claimed):\n%s", diff)
	}
	rest := claim(t, s, "b", time.Hour, 10)
	if diff := cmp.Diff(ids(ws[2:]), ids(rest)); diff != "" {
		t.Errorf("second claim, oldest first, without the removed one (-want +got):\n%s", diff)
	}
	if err := s.FinishWorkspace(ctx, "b", rest[0], modelgate.StatusOnline, "", ""); err != nil {
		t.Fatalf("FinishWorkspace: %v", err)
	}
	if got := claim(t, s, "c", -time.Hour, 10); len(got) != 0 {
		t.Errorf("claimed workspaces that are leased, online or removed: %v", ids(got))
	}

	for _, bad := range []struct {
		owner string
		limit int
	}{{"", 1}, {"a", 0}, {"a", -1}} {
		_, err := s.ClaimWorkspaces(ctx, bad.owner, time.Hour, bad.limit)
		wantCode(t, err, modelgate.EInvalidArgument)
	}
}

func testExpiredLease(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	w := create(t, s, newWorkspace("acme", "w"))

	// A lease that has expired is still its owner's until someone claims
	// the row.
	a := claim(t, s, "a", -time.Second, 1)
	if len(a) != 1 {
		t.Fatalf("claim = %d rows, want 1", len(a))
	}
	if err := s.RecordAttempt(ctx, "a", a[0]); err != nil {
		t.Fatalf("RecordAttempt under an expired lease not yet reclaimed: %v", err)
	}

	b := claim(t, s, "b", time.Hour, 1)
	if len(b) != 1 || b[0].ID != w.ID {
		t.Fatalf("claim of an expired lease = %v, want [%s]", ids(b), w.ID)
	}
	if b[0].Attempts != 1 {
		t.Errorf("Attempts = %d, want 1 (a's attempt)", b[0].Attempts)
	}
	wantCode(t, s.FinishWorkspace(ctx, "a", a[0], modelgate.StatusOnline, "", ""), modelgate.ENotFound)
	wantCode(t, s.RecordAttempt(ctx, "a", a[0]), modelgate.ENotFound)
	if got := claim(t, s, "c", time.Hour, 1); len(got) != 0 {
		t.Errorf("a live lease was claimed again: %v", ids(got))
	}

	mine := b[0]
	tick(mine.UpdatedAt)
	if err := s.RecordAttempt(ctx, "b", mine); err != nil {
		t.Fatalf("RecordAttempt: %v", err)
	}
	if mine.Attempts != 2 || !mine.UpdatedAt.After(b[0].CreatedAt) {
		t.Errorf("after RecordAttempt: attempts %d, updated %v; want 2 and a later time", mine.Attempts, mine.UpdatedAt)
	}
	if diff := cmp.Diff(get(t, s, "acme", w.ID), mine); diff != "" {
		t.Errorf("RecordAttempt did not set *w to the stored row (-stored +w):\n%s", diff)
	}
}

func testFinish(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	w := create(t, s, newWorkspace("acme", "w"))
	notLeased := *w
	wantCode(t, s.FinishWorkspace(ctx, "p", &notLeased, modelgate.StatusOnline, "", ""), modelgate.ENotFound)

	leased := claim(t, s, "p", time.Hour, 1)[0]
	for _, status := range []string{"", modelgate.StatusProvisioning, modelgate.StatusRemoved, "done"} {
		wantCode(t, s.FinishWorkspace(ctx, "p", leased, status, "", ""), modelgate.EInvalidArgument)
	}
	wantCode(t, s.FinishWorkspace(ctx, "someone else", leased, modelgate.StatusOnline, "", ""), modelgate.ENotFound)
	wantCode(t, s.FinishWorkspace(ctx, "", leased, modelgate.StatusOnline, "", ""), modelgate.ENotFound)
	otherOrg := *leased
	otherOrg.Org = "other"
	wantCode(t, s.FinishWorkspace(ctx, "p", &otherOrg, modelgate.StatusOnline, "", ""), modelgate.ENotFound)
	badID := *leased
	badID.ID = "not-a-uuid"
	wantCode(t, s.FinishWorkspace(ctx, "p", &badID, modelgate.StatusOnline, "", ""), modelgate.ENotFound)
	if diff := cmp.Diff(w, get(t, s, "acme", w.ID)); diff != "" {
		t.Errorf("refused finishes changed the workspace (-before +after):\n%s", diff)
	}

	tick(w.UpdatedAt)
	if err := s.FinishWorkspace(ctx, "p", leased, modelgate.StatusFailed, modelgate.EMissingCredential, "no key for 'anthropic-api' 🔑"); err != nil {
		t.Fatalf("FinishWorkspace: %v", err)
	}
	stored := get(t, s, "acme", w.ID)
	if diff := cmp.Diff(stored, leased); diff != "" {
		t.Errorf("FinishWorkspace did not set *w to the stored row (-stored +w):\n%s", diff)
	}
	if stored.Status != modelgate.StatusFailed || stored.StatusCode != modelgate.EMissingCredential ||
		stored.StatusMessage != "no key for 'anthropic-api' 🔑" || !stored.UpdatedAt.After(w.UpdatedAt) {
		t.Errorf("finished workspace = %+v", stored)
	}
	wantCode(t, s.FinishWorkspace(ctx, "p", leased, modelgate.StatusOnline, "", ""), modelgate.ENotFound)
	wantCode(t, s.RecordAttempt(ctx, "p", leased), modelgate.ENotFound)

	changes, err := s.StatusChanges(ctx, "acme", w.ID)
	if err != nil {
		t.Fatalf("StatusChanges: %v", err)
	}
	want := []modelgate.StatusChange{
		{WorkspaceID: w.ID, From: "", To: modelgate.StatusProvisioning, At: w.CreatedAt},
		{WorkspaceID: w.ID, From: modelgate.StatusProvisioning, To: modelgate.StatusFailed, Code: modelgate.EMissingCredential, At: stored.UpdatedAt},
	}
	if diff := cmp.Diff(want, changes); diff != "" {
		t.Errorf("StatusChanges (-want +got):\n%s", diff)
	}
	if _, err := s.StatusChanges(ctx, "other", w.ID); modelgate.ErrorCode(err) != modelgate.ENotFound {
		t.Errorf("StatusChanges of another org: %v, want NOT_FOUND", err)
	}
}

// testFinishRecordsDecision: the backstop may start a workspace with
// another provider, billing and scope than its creation's; FinishWorkspace
// stores the ones in w, and the rest of the row stays as it was.
func testFinishRecordsDecision(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	w := create(t, s, newWorkspace("acme", "w"))
	leased := claim(t, s, "p", time.Hour, 1)[0]
	leased.Provider, leased.PlatformBilled, leased.CredentialScope = "platform", true, modelgate.ScopePlatform
	leased.Name, leased.Model = "renamed by mistake", "another-model" // not FinishWorkspace's to store
	if err := s.FinishWorkspace(ctx, "p", leased, modelgate.StatusOnline, "", ""); err != nil {
		t.Fatalf("FinishWorkspace: %v", err)
	}
	stored := get(t, s, "acme", w.ID)
	if diff := cmp.Diff(stored, leased); diff != "" {
		t.Errorf("FinishWorkspace did not set *w to the stored row (-stored +w):\n%s", diff)
	}
	want := *w
	want.Provider, want.PlatformBilled, want.CredentialScope = "platform", true, modelgate.ScopePlatform
	want.Status, want.Attempts, want.UpdatedAt = modelgate.StatusOnline, stored.Attempts, stored.UpdatedAt
	if diff := cmp.Diff(&want, stored); diff != "" {
		t.Errorf("finished workspace (-want +got):\n%s", diff)
	}
}

// testExpire: the timeout fails old provisioning workspaces, but not one a
// provisioner is working on (a live lease: its attempt ends within it) nor
// one held for an operator fault (CONTRACT.md §6: it stays provisioning).
func testExpire(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	leased := create(t, s, newWorkspace("beta", "leased"))
	online := create(t, s, newWorkspace("acme", "online"))
	lapsed := create(t, s, newWorkspace("acme", "lapsed"))
	held := create(t, s, newWorkspace("acme", "held"))
	stale := create(t, s, newWorkspace("acme", "stale"))
	live := claim(t, s, "p", time.Hour, 2) // leased, online
	if len(live) != 2 || live[0].ID != leased.ID {
		t.Fatalf("claimed %v, want [%s %s]", ids(live), leased.ID, online.ID)
	}
	if err := s.FinishWorkspace(ctx, "p", live[1], modelgate.StatusOnline, "", ""); err != nil {
		t.Fatalf("FinishWorkspace: %v", err)
	}
	dead := claim(t, s, "q", -time.Second, 2) // lapsed, held: their leases have expired
	if len(dead) != 2 || dead[1].ID != held.ID {
		t.Fatalf("claimed %v, want [%s %s]", ids(dead), lapsed.ID, held.ID)
	}
	if err := s.HoldWorkspace(ctx, "q", dead[1], "waiting for the operator: a secret does not decrypt"); err != nil {
		t.Fatalf("HoldWorkspace: %v", err)
	}
	tick(dead[1].UpdatedAt)
	cutoff := time.Now()
	tick(cutoff)
	fresh := create(t, s, newWorkspace("acme", "fresh"))

	expired, err := s.ExpireProvisioning(ctx, cutoff, "no driver answered in 30m")
	if err != nil {
		t.Fatalf("ExpireProvisioning: %v", err)
	}
	if diff := cmp.Diff([]string{lapsed.ID, stale.ID}, ids(expired)); diff != "" {
		t.Errorf("expired (-want +got):\n%s", diff)
	}
	for _, w := range expired {
		if w.Status != modelgate.StatusFailed || w.StatusCode != "PROVISION_TIMEOUT" || w.StatusMessage != "no driver answered in 30m" {
			t.Errorf("expired workspace %s = %s %s %q", w.Name, w.Status, w.StatusCode, w.StatusMessage)
		}
		if diff := cmp.Diff(get(t, s, w.Org, w.ID), w); diff != "" {
			t.Errorf("ExpireProvisioning returned another row than it stored (-stored +returned):\n%s", diff)
		}
		changes, err := s.StatusChanges(ctx, w.Org, w.ID)
		if err != nil {
			t.Fatalf("StatusChanges: %v", err)
		}
		want := modelgate.StatusChange{WorkspaceID: w.ID, From: modelgate.StatusProvisioning, To: modelgate.StatusFailed, Code: "PROVISION_TIMEOUT", At: w.UpdatedAt}
		if diff := cmp.Diff(want, changes[len(changes)-1]); diff != "" {
			t.Errorf("last status change (-want +got):\n%s", diff)
		}
	}
	if got := get(t, s, "acme", fresh.ID); got.Status != modelgate.StatusProvisioning {
		t.Errorf("a workspace created after the cutoff is %s", got.Status)
	}
	if got := get(t, s, "acme", online.ID); got.Status != modelgate.StatusOnline {
		t.Errorf("an online workspace is %s", got.Status)
	}
	if got := get(t, s, "acme", held.ID); got.Status != modelgate.StatusProvisioning || got.StatusMessage == "" {
		t.Errorf("a held workspace is %s %q, want provisioning with its message", got.Status, got.StatusMessage)
	}
	// The expired row's lease is gone with it; the live one still holds.
	wantCode(t, s.FinishWorkspace(ctx, "q", dead[0], modelgate.StatusOnline, "", ""), modelgate.ENotFound)
	if err := s.FinishWorkspace(ctx, "p", live[0], modelgate.StatusOnline, "", ""); err != nil {
		t.Errorf("the workspace under a live lease was expired: FinishWorkspace = %v", err)
	}
	if again, err := s.ExpireProvisioning(ctx, cutoff, "again"); err != nil || len(again) != 0 {
		t.Errorf("second ExpireProvisioning = %v, %v; want none", ids(again), err)
	}
}

func testHold(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	w := create(t, s, newWorkspace("acme", "w"))
	wantCode(t, s.HoldWorkspace(ctx, "a", w, "m"), modelgate.ENotFound) // not leased
	a := claim(t, s, "a", time.Hour, 1)
	if len(a) != 1 {
		t.Fatalf("claim = %d rows, want 1", len(a))
	}
	wantCode(t, s.HoldWorkspace(ctx, "b", a[0], "m"), modelgate.ENotFound) // another owner
	held := a[0]
	tick(held.UpdatedAt)
	const msg = "waiting for the operator: key id 0123 is missing"
	if err := s.HoldWorkspace(ctx, "a", held, msg); err != nil {
		t.Fatalf("HoldWorkspace: %v", err)
	}
	if held.Status != modelgate.StatusProvisioning || held.StatusMessage != msg || held.StatusCode != "" || !held.UpdatedAt.After(a[0].CreatedAt) {
		t.Errorf("after HoldWorkspace: %s %q %q updated %v", held.Status, held.StatusCode, held.StatusMessage, held.UpdatedAt)
	}
	if diff := cmp.Diff(get(t, s, "acme", w.ID), held); diff != "" {
		t.Errorf("HoldWorkspace did not set *w to the stored row (-stored +w):\n%s", diff)
	}
	// It records no status change (the row is still provisioning), and the
	// row stays leased until the lease ends.
	changes, err := s.StatusChanges(ctx, "acme", w.ID)
	if err != nil {
		t.Fatalf("StatusChanges: %v", err)
	}
	for _, c := range changes {
		if c.From != "" {
			t.Errorf("HoldWorkspace recorded a change: %+v", c)
		}
	}
	if got := claim(t, s, "c", time.Hour, 1); len(got) != 0 {
		t.Errorf("a held row under a live lease was claimed: %v", ids(got))
	}
	// Finishing later works as usual.
	if err := s.FinishWorkspace(ctx, "a", held, modelgate.StatusOnline, "", ""); err != nil {
		t.Fatalf("FinishWorkspace after HoldWorkspace: %v", err)
	}
	wantCode(t, s.HoldWorkspace(ctx, "a", held, msg), modelgate.ENotFound) // no longer provisioning
}

func testCountProvisioning(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	count := func() int {
		t.Helper()
		n, err := s.CountProvisioning(ctx)
		if err != nil {
			t.Fatalf("CountProvisioning: %v", err)
		}
		return n
	}
	if n := count(); n != 0 {
		t.Fatalf("empty store: %d provisioning", n)
	}
	create(t, s, newWorkspace("acme", "a"))
	create(t, s, newWorkspace("acme", "b"))
	removed := create(t, s, newWorkspace("acme", "c"))
	create(t, s, newWorkspace("other", "a"))
	if n := count(); n != 4 {
		t.Fatalf("4 created in 2 orgs: %d provisioning", n)
	}
	leased := claim(t, s, "p", time.Hour, 1)[0]
	if n := count(); n != 4 {
		t.Fatalf("a claimed workspace is still in the backlog: %d, want 4", n)
	}
	if err := s.FinishWorkspace(ctx, "p", leased, modelgate.StatusOnline, "", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeprovisionWorkspace(ctx, removed.Org, removed.ID, removed.Name); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 2 {
		t.Fatalf("after one online and one removed: %d provisioning, want 2", n)
	}
}
