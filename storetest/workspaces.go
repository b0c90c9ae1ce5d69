package storetest

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/modelgate/modelgate"
)

// awkwardNames are names a store must keep byte for byte: non-ASCII text,
// emoji (including a ZWJ sequence), combining marks, right-to-left text,
// quotes, backslashes, LIKE wildcards and SQL.
var awkwardNames = []string{
	"Researcher",
	"研究者 🧪🔬",
	"x'); DROP TABLE workspaces;--",
	`quote" back\slash ' %_ *`,
	"e\u0301 combining, עברית, 👩‍👩‍👧 family",
	strings.Repeat("ü", 255),
}

func testRoundTrip(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	parent := create(t, s, newWorkspace("acme", "parent"))
	all := []*modelgate.Workspace{parent}
	for i, name := range awkwardNames {
		nw := newWorkspace("acme", name)
		w := &nw.Workspace
		w.Role = "role with\nnewline, 'quotes' and 🚀 for " + name
		w.Tier = 1 + i%4
		w.Runtime, w.Model = "hermes", "moonshot/kimi-k2.6 "+name
		w.Provider, w.PlatformBilled = "platform", i%2 == 0
		w.CredentialScope = []string{modelgate.ScopePlatform, modelgate.ScopeWorkspace, modelgate.ScopeOrg, modelgate.ScopeUnverified}[i%4]
		w.ParentID = parent.ID
		w.IdempotencyKey = "key " + name

		got := create(t, s, nw)
		want := nw.Workspace
		want.ID, want.Status, want.CreatedAt, want.UpdatedAt = got.ID, modelgate.StatusProvisioning, got.CreatedAt, got.CreatedAt
		if diff := cmp.Diff(&want, got); diff != "" {
			t.Errorf("CreateWorkspace(%q) (-want +got):\n%s", name, diff)
		}
		fetched := get(t, s, "acme", got.ID)
		if diff := cmp.Diff(got, fetched); diff != "" {
			t.Errorf("GetWorkspace after create (-created +fetched):\n%s", diff)
		}
		diffJSON(t, "GetWorkspace after create", got, fetched)
		if fetched.Name != name || fetched.IdempotencyKey != "key "+name {
			t.Errorf("name or key changed: %q, %q", fetched.Name, fetched.IdempotencyKey)
		}
		all = append(all, got)
	}

	sortOldestFirst(all)
	listed := listAll(t, s, "acme", "", 200)
	if diff := cmp.Diff(all, listed); diff != "" {
		t.Errorf("ListWorkspaces (-created +listed):\n%s", diff)
	}
	diffJSON(t, "ListWorkspaces", all, listed)

	last := all[len(all)-1]
	removed, err := s.DeprovisionWorkspace(ctx, "acme", last.ID, last.Name)
	if err != nil {
		t.Fatalf("DeprovisionWorkspace: %v", err)
	}
	want := *last
	want.Status, want.UpdatedAt = modelgate.StatusRemoved, removed.UpdatedAt
	if diff := cmp.Diff(&want, removed); diff != "" {
		t.Errorf("DeprovisionWorkspace (-want +got):\n%s", diff)
	}
	if removed.UpdatedAt.Before(last.UpdatedAt) {
		t.Errorf("UpdatedAt went back: %v before %v", removed.UpdatedAt, last.UpdatedAt)
	}
	diffJSON(t, "GetWorkspace after deprovision", removed, get(t, s, "acme", last.ID))
	if diff := cmp.Diff(all[:len(all)-1], listAll(t, s, "acme", "", 200)); diff != "" {
		t.Errorf("ListWorkspaces lists a removed workspace (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]*modelgate.Workspace{removed}, listAll(t, s, "acme", modelgate.StatusRemoved, 200)); diff != "" {
		t.Errorf("ListWorkspaces(removed) (-want +got):\n%s", diff)
	}
	diffJSON(t, "ListWorkspaces(removed)", []*modelgate.Workspace{removed}, listAll(t, s, "acme", modelgate.StatusRemoved, 200))
}

func testStoreChooses(t *testing.T, s modelgate.Store) {
	nw := newWorkspace("acme", "w")
	// The caller may choose the id (the provision service does: workspace
	// secrets are sealed to it). The other fields are the store's to set,
	// filled in here by a confused caller.
	nw.Workspace.ID = uuid.NewString()
	nw.Workspace.Status, nw.Workspace.StatusCode, nw.Workspace.StatusMessage = modelgate.StatusOnline, "X", "y"
	nw.Workspace.Attempts = 7
	nw.Workspace.CreatedAt = time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	nw.Workspace.UpdatedAt = nw.Workspace.CreatedAt

	before := time.Now()
	w := create(t, s, nw)
	after := time.Now()

	if w.ID != nw.Workspace.ID {
		t.Errorf("ID = %q, want the caller's %q", w.ID, nw.Workspace.ID)
	}
	if generated := create(t, s, newWorkspace("acme", "w2")); !isUUID(generated.ID) {
		t.Errorf("ID = %q for a workspace given none, want a new canonical UUID", generated.ID)
	}
	bad := newWorkspace("acme", "w3")
	bad.Workspace.ID = "not-a-uuid"
	if _, _, err := s.CreateWorkspace(t.Context(), bad); modelgate.ErrorCode(err) != modelgate.EInvalidArgument {
		t.Errorf("CreateWorkspace with a malformed id = %v, want INVALID_ARGUMENT", err)
	}
	if w.Status != modelgate.StatusProvisioning || w.StatusCode != "" || w.StatusMessage != "" || w.Attempts != 0 {
		t.Errorf("status = %q %q %q, attempts %d; want provisioning with no code, no message, no attempts",
			w.Status, w.StatusCode, w.StatusMessage, w.Attempts)
	}
	wantStoredTime(t, "CreatedAt", w.CreatedAt)
	if w.CreatedAt.Before(before.Add(-time.Microsecond)) || w.CreatedAt.After(after.Add(time.Microsecond)) {
		t.Errorf("CreatedAt = %v, want between %v and %v", w.CreatedAt, before, after)
	}
	if !w.UpdatedAt.Equal(w.CreatedAt) {
		t.Errorf("UpdatedAt = %v, want CreatedAt %v", w.UpdatedAt, w.CreatedAt)
	}
	changes, err := s.StatusChanges(t.Context(), "acme", w.ID)
	if err != nil {
		t.Fatalf("StatusChanges: %v", err)
	}
	want := []modelgate.StatusChange{{WorkspaceID: w.ID, From: "", To: modelgate.StatusProvisioning, At: w.CreatedAt}}
	if diff := cmp.Diff(want, changes); diff != "" {
		t.Errorf("StatusChanges (-want +got):\n%s", diff)
	}
	wantStoredTime(t, "StatusChange.At", changes[0].At)
}

func testIDTaken(t *testing.T, s modelgate.Store) {
	first := newWorkspace("acme", "first")
	first.Workspace.ID = uuid.NewString()
	create(t, s, first)
	again := newWorkspace("acme", "second")
	again.Workspace.ID = strings.ToUpper(first.Workspace.ID) // the same UUID
	writesNothing(t, s, func() {
		_, _, err := s.CreateWorkspace(t.Context(), again)
		wantCode(t, err, modelgate.EInvalidArgument)
	})
}

func testCreateInvalid(t *testing.T, s modelgate.Store) {
	create(t, s, newWorkspace("acme", "exists")) // so that the org exists
	tests := []struct {
		name   string
		change func(nw *modelgate.NewWorkspace)
	}{
		{"no org", func(nw *modelgate.NewWorkspace) { nw.Workspace.Org = "" }},
		{"no name", func(nw *modelgate.NewWorkspace) { nw.Workspace.Name = "" }},
		{"tier 0", func(nw *modelgate.NewWorkspace) { nw.Workspace.Tier = 0 }},
		{"tier 5", func(nw *modelgate.NewWorkspace) { nw.Workspace.Tier = 5 }},
		{"unsealed secret", func(nw *modelgate.NewWorkspace) {
			nw.Secrets = []modelgate.SealedSecret{{Name: "KEY", Sealed: modelgate.Sealed{KeyID: "k1"}}}
		}},
		{"secret without name", func(nw *modelgate.NewWorkspace) {
			nw.Secrets = []modelgate.SealedSecret{{Sealed: sealed("k1", "v")}}
		}},
		{"secret twice", func(nw *modelgate.NewWorkspace) {
			nw.Secrets = []modelgate.SealedSecret{{Name: "KEY", Sealed: sealed("k1", "a")}, {Name: "KEY", Sealed: sealed("k1", "b")}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nw := newWorkspace("acme", "new")
			tt.change(&nw)
			writesNothing(t, s, func() {
				_, _, err := s.CreateWorkspace(t.Context(), nw)
				wantCode(t, err, modelgate.EInvalidArgument)
			})
		})
	}
}

func testNameUnique(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	first := create(t, s, newWorkspace("acme", "Researcher"))
	writesNothing(t, s, func() {
		_, _, err := s.CreateWorkspace(ctx, newWorkspace("acme", "Researcher"))
		wantCode(t, err, modelgate.ENameConflict)
	})
	// Names compare exactly: another case or org is another name.
	create(t, s, newWorkspace("acme", "researcher"))
	create(t, s, newWorkspace("other", "Researcher"))

	// Removing a workspace frees its name, also for a second removal.
	if _, err := s.DeprovisionWorkspace(ctx, "acme", first.ID, first.Name); err != nil {
		t.Fatalf("DeprovisionWorkspace: %v", err)
	}
	second := create(t, s, newWorkspace("acme", "Researcher"))
	if _, err := s.DeprovisionWorkspace(ctx, "acme", second.ID, second.Name); err != nil {
		t.Fatalf("DeprovisionWorkspace: %v", err)
	}
	third := create(t, s, newWorkspace("acme", "Researcher"))
	_, _, err := s.CreateWorkspace(ctx, newWorkspace("acme", "Researcher"))
	wantCode(t, err, modelgate.ENameConflict)

	removed := listAll(t, s, "acme", modelgate.StatusRemoved, 10)
	if diff := cmp.Diff([]string{first.ID, second.ID}, ids(removed)); diff != "" {
		t.Errorf("removed workspaces (-want +got):\n%s", diff)
	}
	if got := get(t, s, "acme", third.ID); got.Status != modelgate.StatusProvisioning {
		t.Errorf("third workspace status %q", got.Status)
	}
}

func testIdempotencyKey(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	nw := newWorkspace("acme", "Researcher")
	nw.Workspace.IdempotencyKey = "req-1"
	nw.Secrets = []modelgate.SealedSecret{{Name: "ANTHROPIC_API_KEY", Sealed: sealed("k1", "v")}}
	first := create(t, s, nw)

	// A repeat finds the first workspace, even when the rest of the call
	// differs (another name or model), and writes nothing: no new row, no
	// new secret, no new event.
	repeat := nw
	repeat.Workspace.Name, repeat.Workspace.Model = "Other name", "other-model"
	repeat.Secrets = []modelgate.SealedSecret{{Name: "OPENAI_API_KEY", Sealed: sealed("k1", "w")}}
	writesNothing(t, s, func() {
		got, created, err := s.CreateWorkspace(ctx, repeat)
		if err != nil || created {
			t.Fatalf("repeat CreateWorkspace: created=%v err=%v, want the first workspace", created, err)
		}
		if diff := cmp.Diff(first, got); diff != "" {
			t.Errorf("repeat CreateWorkspace (-first +got):\n%s", diff)
		}
	})
	secrets, err := s.WorkspaceSecrets(ctx, "acme", first.ID)
	if err != nil {
		t.Fatalf("WorkspaceSecrets: %v", err)
	}
	if len(secrets) != 1 || secrets[0].Name != "ANTHROPIC_API_KEY" {
		t.Errorf("WorkspaceSecrets = %v, want only the first call's secret", secrets)
	}

	// A key is per org.
	other := nw
	other.Workspace.Org = "other"
	if w := create(t, s, other); w.ID == first.ID {
		t.Error("another org's call with the same key found acme's workspace")
	}

	// A removed workspace still holds its key.
	removed, err := s.DeprovisionWorkspace(ctx, "acme", first.ID, first.Name)
	if err != nil {
		t.Fatalf("DeprovisionWorkspace: %v", err)
	}
	got, created, err := s.CreateWorkspace(ctx, nw)
	if err != nil || created {
		t.Fatalf("CreateWorkspace after removal: created=%v err=%v, want the removed workspace", created, err)
	}
	if diff := cmp.Diff(removed, got); diff != "" {
		t.Errorf("CreateWorkspace after removal (-removed +got):\n%s", diff)
	}
}

// concurrently runs f(i) for i in 0..n-1 in n goroutines released together.
func concurrently(n int, f func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			f(i)
		})
	}
	close(start)
	wg.Wait()
}

func testConcurrentSameName(t *testing.T, s modelgate.Store) {
	// Three rounds, as in testConcurrentSameKey.
	for round := range 3 {
		name := fmt.Sprintf("same %d", round)
		const n = 50
		ws := make([]*modelgate.Workspace, n)
		errs := make([]error, n)
		concurrently(n, func(i int) {
			ws[i], _, errs[i] = s.CreateWorkspace(t.Context(), newWorkspace("acme", name))
		})
		var winners []*modelgate.Workspace
		conflicts := 0
		for i, err := range errs {
			switch modelgate.ErrorCode(err) {
			case "":
				winners = append(winners, ws[i])
			case modelgate.ENameConflict:
				conflicts++
			default:
				t.Errorf("CreateWorkspace: %v", err)
			}
		}
		if len(winners) != 1 || conflicts != n-1 {
			t.Fatalf("round %d: %d created and %d NAME_CONFLICT, want 1 and %d", round, len(winners), conflicts, n-1)
		}
	}
	if ws := listAll(t, s, "acme", "", 200); len(ws) != 3 {
		t.Errorf("ListWorkspaces = %d workspaces, want 3", len(ws))
	}
}

func testConcurrentSameKey(t *testing.T, s modelgate.Store) {
	tests := []struct {
		name string
		// nameOf names the workspace of call i.
		nameOf func(i int) string
	}{
		// The name index and the key index both object; the key must win.
		{"same name", func(int) string { return "same" }},
		{"different names", func(i int) string { return fmt.Sprintf("call %d", i) }},
	}
	// Three rounds each: in the first, a pooled store may still be opening
	// connections, which makes the calls less concurrent than they look.
	for _, tt := range tests {
		for round := range 3 {
			t.Run(fmt.Sprintf("%s round %d", tt.name, round), func(t *testing.T) {
				testConcurrentKeyRound(t, s, "org "+t.Name(), tt.nameOf)
			})
		}
	}
}

func testConcurrentKeyRound(t *testing.T, s modelgate.Store, org string, nameOf func(i int) string) {
	const n = 50
	ws := make([]*modelgate.Workspace, n)
	created := make([]bool, n)
	errs := make([]error, n)
	concurrently(n, func(i int) {
		nw := newWorkspace(org, nameOf(i))
		nw.Workspace.IdempotencyKey = "retry"
		ws[i], created[i], errs[i] = s.CreateWorkspace(t.Context(), nw)
	})
	creators := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("call %d: %v", i, errs[i])
		}
		if created[i] {
			creators++
		}
		if diff := cmp.Diff(ws[0], ws[i]); diff != "" {
			t.Errorf("call %d returned another workspace (-call 0 +call %d):\n%s", i, i, diff)
		}
	}
	if creators != 1 {
		t.Errorf("%d calls report created=true, want 1", creators)
	}
	if diff := cmp.Diff(ws[:1], listAll(t, s, org, "", 200)); diff != "" {
		t.Errorf("ListWorkspaces (-returned +listed):\n%s", diff)
	}
}

func testParent(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	parent := create(t, s, newWorkspace("acme", "parent"))
	foreign := create(t, s, newWorkspace("other", "foreign"))

	child := newWorkspace("acme", "child")
	child.Workspace.ParentID = parent.ID
	if got := create(t, s, child); got.ParentID != parent.ID {
		t.Errorf("ParentID = %q, want %q", got.ParentID, parent.ID)
	}
	// An upper-case UUID names the same workspace.
	upper := newWorkspace("acme", "child 2")
	upper.Workspace.ParentID = strings.ToUpper(parent.ID)
	if got := create(t, s, upper); got.ParentID != parent.ID {
		t.Errorf("ParentID = %q, want canonical %q", got.ParentID, parent.ID)
	}

	tests := []struct{ name, parentID string }{
		{"another org's workspace", foreign.ID},
		{"unknown UUID", uuid.NewString()},
		{"not a UUID", "not-a-uuid"},
		{"SQL", "'; DROP TABLE workspaces; --"},
	}
	// A workspace does not exist before it is created, so it cannot be its
	// own parent.
	t.Run("itself", func(t *testing.T) {
		nw := newWorkspace("acme", "own parent")
		nw.Workspace.ID = uuid.NewString()
		nw.Workspace.ParentID = nw.Workspace.ID
		writesNothing(t, s, func() {
			_, _, err := s.CreateWorkspace(ctx, nw)
			wantCode(t, err, modelgate.ENotFound)
		})
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nw := newWorkspace("acme", "orphan")
			nw.Workspace.ParentID = tt.parentID
			writesNothing(t, s, func() {
				_, _, err := s.CreateWorkspace(ctx, nw)
				wantCode(t, err, modelgate.ENotFound)
			})
		})
	}
}

func testListen(t *testing.T, s modelgate.Store) {
	l, ok := s.(Listener)
	if !ok {
		t.Skip("the store does not implement ListenProvision")
	}
	ctx, cancel := context.WithCancel(t.Context())
	wakes := make(chan struct{}, 100)
	done := make(chan error, 1)
	go func() { done <- l.ListenProvision(ctx, func() { wakes <- struct{}{} }) }()

	waitFor(t, wakes, "the wake-up when listening starts")
	create(t, s, newWorkspace("acme", "new"))
	waitFor(t, wakes, "the wake-up after CreateWorkspace")

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ListenProvision returned %v after ctx ended, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ListenProvision did not return after ctx ended")
	}
}

// testListenStatus: every method that moves a workspace out of provisioning
// (or removes it) signals its id to ListenStatus, which wakes wait_seconds.
// Other tests on a shared database signal too; only this test's ids count.
func testListenStatus(t *testing.T, s modelgate.Store) {
	l, ok := s.(modelgate.StatusListener)
	if !ok {
		t.Skip("the store does not implement ListenStatus")
	}
	ctx, cancel := context.WithCancel(t.Context())
	ids := make(chan string, 1000)
	done := make(chan error, 1)
	go func() { done <- l.ListenStatus(ctx, func(id string) { ids <- id }) }()
	waitForID := func(want, what string) {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case id := <-ids:
				if id == want {
					return
				}
			case <-timeout:
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	waitForID("", "the signal when listening starts")

	finished := create(t, s, newWorkspace("acme", "finished"))
	removed := create(t, s, newWorkspace("acme", "removed"))
	ws := claim(t, s, "p1", time.Minute, 10)
	for _, w := range ws {
		if w.ID == finished.ID {
			if err := s.FinishWorkspace(ctx, "p1", w, modelgate.StatusOnline, "", ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitForID(finished.ID, "the signal after FinishWorkspace")
	if _, err := s.DeprovisionWorkspace(ctx, "acme", removed.ID, removed.Name); err != nil {
		t.Fatal(err)
	}
	waitForID(removed.ID, "the signal after DeprovisionWorkspace")
	expired := create(t, s, newWorkspace("acme", "expired"))
	if _, err := s.ExpireProvisioning(ctx, time.Now().Add(time.Hour), "too slow"); err != nil {
		t.Fatal(err)
	}
	waitForID(expired.ID, "the signal after ExpireProvisioning")

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ListenStatus returned %v after ctx ended, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ListenStatus did not return after ctx ended")
	}
}

func testNotFound(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	w := create(t, s, newWorkspace("acme", "exists"))
	tests := []struct{ name, id string }{
		{"unknown UUID", uuid.NewString()},
		{"not a UUID", "not-a-uuid"},
		{"empty", ""},
		{"SQL", "' OR 1=1 --"},
		{"UUID with a suffix", w.ID + "0"},
		{"long", strings.Repeat("a", 1000)},
	}
	for _, tt := range tests {
		id := tt.id
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.GetWorkspace(ctx, "acme", id)
			wantCode(t, err, modelgate.ENotFound)
			_, err = s.DeprovisionWorkspace(ctx, "acme", id, "exists")
			wantCode(t, err, modelgate.ENotFound)
			_, err = s.WorkspaceSecrets(ctx, "acme", id)
			wantCode(t, err, modelgate.ENotFound)
			_, err = s.StatusChanges(ctx, "acme", id)
			wantCode(t, err, modelgate.ENotFound)
		})
	}
}

func testOrgIsolation(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	nw := newWorkspace("org-a", "shared name")
	nw.Secrets = []modelgate.SealedSecret{{Name: "ANTHROPIC_API_KEY", Sealed: sealed("k1", "a's key")}}
	a := create(t, s, nw)
	if _, err := s.SetOrgSecret(ctx, "org-a", modelgate.SealedSecret{Name: "OPENAI_API_KEY", Sealed: sealed("k1", "a's org key")}, 0); err != nil {
		t.Fatalf("SetOrgSecret: %v", err)
	}

	_, err := s.GetWorkspace(ctx, "org-b", a.ID)
	wantCode(t, err, modelgate.ENotFound)
	_, err = s.DeprovisionWorkspace(ctx, "org-b", a.ID, a.Name)
	wantCode(t, err, modelgate.ENotFound)
	_, err = s.WorkspaceSecrets(ctx, "org-b", a.ID)
	wantCode(t, err, modelgate.ENotFound)
	_, err = s.StatusChanges(ctx, "org-b", a.ID)
	wantCode(t, err, modelgate.ENotFound)
	if ws := listAll(t, s, "org-b", "", 200); len(ws) != 0 {
		t.Errorf("org-b lists %d workspaces of org-a", len(ws))
	}
	if ws := listAll(t, s, "org-b", modelgate.StatusProvisioning, 200); len(ws) != 0 {
		t.Errorf("org-b lists %d workspaces of org-a", len(ws))
	}
	names, err := s.OrgSecretNames(ctx, "org-b")
	if err != nil || len(names) != 0 {
		t.Errorf("OrgSecretNames(org-b) = %v, %v; want none", names, err)
	}
	secrets, err := s.OrgSecrets(ctx, "org-b")
	if err != nil || len(secrets) != 0 {
		t.Errorf("OrgSecrets(org-b) = %d secrets, %v; want none", len(secrets), err)
	}
	infos, _, err := s.ListOrgSecrets(ctx, "org-b", modelgate.SecretFilter{Limit: 200})
	if err != nil || len(infos) != 0 {
		t.Errorf("ListOrgSecrets(org-b) = %v, %v; want none", infos, err)
	}
	if deleted, err := s.DeleteOrgSecret(ctx, "org-b", "OPENAI_API_KEY"); err != nil || deleted {
		t.Errorf("DeleteOrgSecret(org-b) = %v, %v; want false", deleted, err)
	}

	// org-a is untouched, and org-b may use the same name.
	if got := get(t, s, "org-a", a.ID); got.Status != modelgate.StatusProvisioning {
		t.Errorf("org-a's workspace is %s", got.Status)
	}
	if names, _ := s.OrgSecretNames(ctx, "org-a"); len(names) != 1 {
		t.Errorf("org-a's secret names = %v", names)
	}
	create(t, s, newWorkspace("org-b", "shared name"))
}

func testPagination(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	var all []*modelgate.Workspace
	for i := range 23 {
		all = append(all, create(t, s, newWorkspace("acme", fmt.Sprintf("w%02d", i))))
		if i%5 == 0 {
			create(t, s, newWorkspace("other", fmt.Sprintf("w%02d", i))) // interleaved, never listed
		}
	}
	var live, removed []*modelgate.Workspace
	for i, w := range all {
		if i == 3 || i == 10 || i == 22 {
			r, err := s.DeprovisionWorkspace(ctx, "acme", w.ID, w.Name)
			if err != nil {
				t.Fatalf("DeprovisionWorkspace: %v", err)
			}
			removed = append(removed, r)
			continue
		}
		live = append(live, w)
	}
	sortOldestFirst(live)
	sortOldestFirst(removed)

	for _, limit := range []int{1, 4, 5, 20, 200} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			if diff := cmp.Diff(ids(live), ids(listAll(t, s, "acme", "", limit))); diff != "" {
				t.Errorf("live workspaces (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(ids(live), ids(listAll(t, s, "acme", modelgate.StatusProvisioning, limit))); diff != "" {
				t.Errorf("provisioning workspaces (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(ids(removed), ids(listAll(t, s, "acme", modelgate.StatusRemoved, limit))); diff != "" {
				t.Errorf("removed workspaces (-want +got):\n%s", diff)
			}
		})
	}

	// A page that ends exactly at the last row has no next page.
	ws, next, err := s.ListWorkspaces(ctx, "acme", modelgate.WorkspaceFilter{Limit: len(live)})
	if err != nil || len(ws) != len(live) || next != "" {
		t.Errorf("ListWorkspaces(limit %d) = %d rows, cursor %q, %v; want all rows and no cursor", len(live), len(ws), next, err)
	}
	if ws, _, _ := s.ListWorkspaces(ctx, "acme", modelgate.WorkspaceFilter{Status: modelgate.StatusOnline, Limit: 10}); len(ws) != 0 {
		t.Errorf("ListWorkspaces(online) = %d rows, want none", len(ws))
	}
}

func testBadFilter(t *testing.T, s modelgate.Store) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	tests := []struct {
		name string
		f    modelgate.WorkspaceFilter
	}{
		{"limit 0", modelgate.WorkspaceFilter{Limit: 0}},
		{"limit -1", modelgate.WorkspaceFilter{Limit: -1}},
		{"limit 201", modelgate.WorkspaceFilter{Limit: 201}},
		{"unknown status", modelgate.WorkspaceFilter{Limit: 10, Status: "deleted"}},
		{"cursor not base64", modelgate.WorkspaceFilter{Limit: 10, Cursor: "%%% not base64"}},
		{"cursor of garbage", modelgate.WorkspaceFilter{Limit: 10, Cursor: enc("garbage")}},
		{"cursor without a UUID", modelgate.WorkspaceFilter{Limit: 10, Cursor: enc("2026-01-02T03:04:05Z not-a-uuid")}},
		{"cursor without a time", modelgate.WorkspaceFilter{Limit: 10, Cursor: enc("yesterday " + uuid.NewString())}},
		{"cursor of SQL", modelgate.WorkspaceFilter{Limit: 10, Cursor: enc("'); DROP TABLE workspaces;--")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s.ListWorkspaces(t.Context(), "acme", tt.f)
			wantCode(t, err, modelgate.EInvalidArgument)
		})
	}
}

func testDeprovision(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	w := create(t, s, newWorkspace("acme", "Researcher"))
	for _, confirm := range []string{"", "researcher", "Researcher ", "Other"} {
		writesNothing(t, s, func() {
			_, err := s.DeprovisionWorkspace(ctx, "acme", w.ID, confirm)
			wantCode(t, err, modelgate.EConfirmationRequired)
		})
	}
	if diff := cmp.Diff(w, get(t, s, "acme", w.ID)); diff != "" {
		t.Errorf("a refused deprovision changed the workspace (-before +after):\n%s", diff)
	}

	tick(w.UpdatedAt)
	removed, err := s.DeprovisionWorkspace(ctx, "acme", w.ID, "Researcher")
	if err != nil {
		t.Fatalf("DeprovisionWorkspace: %v", err)
	}
	if removed.Status != modelgate.StatusRemoved || !removed.UpdatedAt.After(w.UpdatedAt) {
		t.Errorf("DeprovisionWorkspace = status %q, updated %v; want removed, after %v", removed.Status, removed.UpdatedAt, w.UpdatedAt)
	}
	wantStoredTime(t, "UpdatedAt", removed.UpdatedAt)
	writesNothing(t, s, func() {
		again, err := s.DeprovisionWorkspace(ctx, "acme", w.ID, "Researcher")
		if err != nil {
			t.Fatalf("DeprovisionWorkspace again: %v", err)
		}
		if diff := cmp.Diff(removed, again); diff != "" {
			t.Errorf("removing a removed workspace changed it (-first +again):\n%s", diff)
		}
	})
	changes, err := s.StatusChanges(ctx, "acme", w.ID)
	if err != nil {
		t.Fatalf("StatusChanges: %v", err)
	}
	want := []modelgate.StatusChange{
		{WorkspaceID: w.ID, From: "", To: modelgate.StatusProvisioning, At: w.CreatedAt},
		{WorkspaceID: w.ID, From: modelgate.StatusProvisioning, To: modelgate.StatusRemoved, At: removed.UpdatedAt},
	}
	if diff := cmp.Diff(want, changes); diff != "" {
		t.Errorf("StatusChanges (-want +got):\n%s", diff)
	}

	// A failed workspace loses its failure code when it is removed: the
	// code explains a failed status, and the events keep the history.
	f := create(t, s, newWorkspace("acme", "failing"))
	claimed, err := s.ClaimWorkspaces(ctx, "p", time.Hour, 10)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("ClaimWorkspaces = %d, %v", len(claimed), err)
	}
	if err := s.FinishWorkspace(ctx, "p", claimed[0], modelgate.StatusFailed, "DRIVER_FAILED", "boom"); err != nil {
		t.Fatalf("FinishWorkspace: %v", err)
	}
	removed, err = s.DeprovisionWorkspace(ctx, "acme", f.ID, f.Name)
	if err != nil {
		t.Fatalf("DeprovisionWorkspace: %v", err)
	}
	if removed.StatusCode != "" || removed.StatusMessage != "" {
		t.Errorf("removed workspace keeps code %q and message %q", removed.StatusCode, removed.StatusMessage)
	}
}

func testFindWorkspace(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	keyed := newWorkspace("acme", "keyed")
	keyed.Workspace.IdempotencyKey = "k1"
	k := create(t, s, keyed)
	named := create(t, s, newWorkspace("acme", "named"))

	if got, err := s.FindWorkspace(ctx, "acme", "k1", ""); err != nil || got.ID != k.ID {
		t.Fatalf("by key = %v, %v; want %s", got, err, k.ID)
	}
	if got, err := s.FindWorkspace(ctx, "acme", "", "named"); err != nil || got.ID != named.ID {
		t.Fatalf("by name = %v, %v; want %s", got, err, named.ID)
	}
	for _, tc := range []struct{ org, key, name string }{
		{"acme", "k2", ""}, {"acme", "", "nobody"}, {"globex", "k1", ""}, {"globex", "", "named"},
	} {
		if _, err := s.FindWorkspace(ctx, tc.org, tc.key, tc.name); modelgate.ErrorCode(err) != modelgate.ENotFound {
			t.Errorf("FindWorkspace(%q, %q, %q) = %v, want NOT_FOUND", tc.org, tc.key, tc.name, err)
		}
	}
	if _, err := s.DeprovisionWorkspace(ctx, "acme", named.ID, "named"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FindWorkspace(ctx, "acme", "", "named"); modelgate.ErrorCode(err) != modelgate.ENotFound {
		t.Fatalf("a removed workspace is found by name: %v", err)
	}
}
