package storetest

import (
	"encoding/base64"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelgate/modelgate"
)

// limited returns nw with the org's limit of live workspaces set.
func limited(nw modelgate.NewWorkspace, limit int) modelgate.NewWorkspace {
	nw.MaxWorkspaces = limit
	return nw
}

// wantLimit fails the test unless err is WORKSPACE_LIMIT_REACHED with the
// limit in its details.
func wantLimit(t *testing.T, err error, limit int) {
	t.Helper()
	wantCode(t, err, modelgate.EWorkspaceLimit)
	var e *modelgate.Error
	errors.As(err, &e)
	if got, ok := e.Details["limit"].(int); !ok || got != limit {
		t.Errorf("details[limit] = %v, want %d", e.Details["limit"], limit)
	}
}

func testWorkspaceLimit(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	const limit = 3
	var ws []*modelgate.Workspace
	for i := range limit {
		nw := limited(newWorkspace("acme", fmt.Sprintf("w%d", i)), limit)
		nw.Workspace.IdempotencyKey = fmt.Sprintf("key %d", i)
		ws = append(ws, create(t, s, nw))
	}

	// At the limit: refused before the name and the parent are looked at,
	// writing nothing.
	for _, nw := range []modelgate.NewWorkspace{
		newWorkspace("acme", "one more"),
		newWorkspace("acme", "w0"),
		func() modelgate.NewWorkspace {
			nw := newWorkspace("acme", "child")
			nw.Workspace.ParentID = "00000000-0000-4000-8000-000000000000"
			nw.Secrets = []modelgate.SealedSecret{{Name: "A_KEY", Sealed: sealed("k1", "v")}}
			nw.Audit = &modelgate.AuditEntry{TokenPrefix: "mg_x"}
			return nw
		}(),
	} {
		writesNothing(t, s, func() {
			_, _, err := s.CreateWorkspace(ctx, limited(nw, limit))
			wantLimit(t, err, limit)
		})
	}
	if n, err := s.CountLiveWorkspaces(ctx, "acme"); err != nil || n != limit {
		t.Errorf("CountLiveWorkspaces = %d, %v; want %d", n, err, limit)
	}

	// A repeated idempotency key still answers with its workspace.
	again := limited(newWorkspace("acme", "another name"), limit)
	again.Workspace.IdempotencyKey = "key 1"
	if w, created, err := s.CreateWorkspace(ctx, again); err != nil || created || w.ID != ws[1].ID {
		t.Errorf("CreateWorkspace with a used key at the limit = %v, created %v, %v; want workspace %s", w, created, err, ws[1].ID)
	}
	// Other orgs have limits of their own; no limit is no limit.
	create(t, s, limited(newWorkspace("other", "w0"), limit))
	create(t, s, newWorkspace("acme", "unlimited"))
	create(t, s, limited(newWorkspace("acme", "a higher limit"), limit+2))

	// Removed workspaces do not count.
	if n, _ := s.CountLiveWorkspaces(ctx, "acme"); n != limit+2 {
		t.Fatalf("CountLiveWorkspaces = %d, want %d", n, limit+2)
	}
	for _, w := range ws {
		if _, err := s.DeprovisionWorkspace(ctx, "acme", w.ID, w.Name); err != nil {
			t.Fatalf("DeprovisionWorkspace: %v", err)
		}
	}
	if n, _ := s.CountLiveWorkspaces(ctx, "acme"); n != 2 {
		t.Fatalf("CountLiveWorkspaces after removing %d = %d, want 2", limit, n)
	}
	create(t, s, limited(newWorkspace("acme", "w0"), limit))
	_, _, err := s.CreateWorkspace(ctx, limited(newWorkspace("acme", "w1"), limit))
	wantLimit(t, err, limit)
	if n, _ := s.CountLiveWorkspaces(ctx, "nobody"); n != 0 {
		t.Errorf("CountLiveWorkspaces of an org without workspaces = %d", n)
	}
}

// testConcurrentWorkspaceLimit races creates of one org against its limit:
// exactly as many as fit are created, from one place short of the limit
// and from empty with more callers than fit.
func testConcurrentWorkspaceLimit(t *testing.T, s modelgate.Store) {
	tests := []struct {
		name            string
		limit, existing int
		callers         int
	}{
		{"one place left", 5, 4, 30},
		{"one place left again", 5, 4, 30},
		// More than PostgreSQL's default max_connections (100): the
		// postgres store decides the first creates under a shared lock.
		{"from empty", 130, 0, 170},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			org := fmt.Sprintf("org %d", i)
			for j := range tt.existing {
				create(t, s, limited(newWorkspace(org, fmt.Sprintf("existing %d", j)), tt.limit))
			}
			errs := make([]error, tt.callers)
			concurrently(tt.callers, func(j int) {
				_, _, errs[j] = s.CreateWorkspace(t.Context(), limited(newWorkspace(org, fmt.Sprintf("call %d", j)), tt.limit))
			})
			created, refused := 0, 0
			for _, err := range errs {
				switch modelgate.ErrorCode(err) {
				case "":
					created++
				case modelgate.EWorkspaceLimit:
					refused++
				default:
					t.Errorf("CreateWorkspace: %v", err)
				}
			}
			want := tt.limit - tt.existing
			if created != want || refused != tt.callers-want {
				t.Errorf("%d created and %d refused, want %d and %d", created, refused, want, tt.callers-want)
			}
			if n, err := s.CountLiveWorkspaces(t.Context(), org); err != nil || n != tt.limit {
				t.Errorf("CountLiveWorkspaces = %d, %v; want the limit, %d", n, err, tt.limit)
			}
		})
	}
}

func testOrgSecretLimit(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	const limit = 2
	set := func(org, name, value string, max int) error {
		_, err := s.SetOrgSecret(ctx, org, modelgate.SealedSecret{Name: name, Sealed: sealed("k1", value)}, max)
		return err
	}
	for _, name := range []string{"A_KEY", "B_KEY"} {
		if err := set("acme", name, "first", limit); err != nil {
			t.Fatalf("SetOrgSecret(%s): %v", name, err)
		}
	}
	writesNothing(t, s, func() { wantLimit(t, set("acme", "C_KEY", "v", limit), limit) })
	// Replacing at the limit is allowed.
	if err := set("acme", "A_KEY", "second", limit); err != nil {
		t.Fatalf("replacing at the limit: %v", err)
	}
	secrets, err := s.OrgSecrets(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	want := []modelgate.SealedSecret{{Name: "A_KEY", Sealed: sealed("k1", "second")}, {Name: "B_KEY", Sealed: sealed("k1", "first")}}
	if diff := cmp.Diff(want, secrets); diff != "" {
		t.Errorf("OrgSecrets (-want +got):\n%s", diff)
	}
	// Other orgs, a higher limit, no limit; a deleted secret frees its place.
	if err := set("other", "C_KEY", "v", limit); err != nil {
		t.Errorf("another org: %v", err)
	}
	if err := set("acme", "C_KEY", "v", limit+1); err != nil {
		t.Errorf("a higher limit: %v", err)
	}
	if err := set("acme", "D_KEY", "v", 0); err != nil {
		t.Errorf("no limit: %v", err)
	}
	for _, name := range []string{"A_KEY", "B_KEY", "C_KEY"} {
		if _, err := s.DeleteOrgSecret(ctx, "acme", name); err != nil {
			t.Fatal(err)
		}
	}
	if err := set("acme", "E_KEY", "v", limit); err != nil {
		t.Errorf("after deletes: %v", err)
	}
	wantLimit(t, set("acme", "F_KEY", "v", limit), limit)
}

// testConcurrentOrgSecretLimit races new names and replacements of one
// org at one place short of its limit: one new name gets the place, every
// replacement succeeds.
func testConcurrentOrgSecretLimit(t *testing.T, s modelgate.Store) {
	const limit, callers = 4, 40
	for round := range 3 {
		org := fmt.Sprintf("org %d", round)
		for i := range limit - 1 {
			if _, err := s.SetOrgSecret(t.Context(), org, modelgate.SealedSecret{Name: fmt.Sprintf("OLD_%d", i), Sealed: sealed("k1", "v")}, limit); err != nil {
				t.Fatal(err)
			}
		}
		errs := make([]error, callers)
		concurrently(callers, func(i int) {
			name := fmt.Sprintf("NEW_%d", i)
			if i%2 == 1 {
				name = fmt.Sprintf("OLD_%d", i%(limit-1))
			}
			_, errs[i] = s.SetOrgSecret(t.Context(), org, modelgate.SealedSecret{Name: name, Sealed: sealed("k2", "v")}, limit)
		})
		newNames, refused := 0, 0
		for i, err := range errs {
			switch code := modelgate.ErrorCode(err); {
			case i%2 == 1 && code != "":
				t.Errorf("round %d: replacing at the limit: %v", round, err)
			case i%2 == 0 && code == "":
				newNames++
			case i%2 == 0 && code == modelgate.EWorkspaceLimit:
				refused++
			case code != "":
				t.Errorf("round %d: SetOrgSecret: %v", round, err)
			}
		}
		if newNames != 1 || refused != callers/2-1 {
			t.Errorf("round %d: %d new names stored and %d refused, want 1 and %d", round, newNames, refused, callers/2-1)
		}
		if names, err := s.OrgSecretNames(t.Context(), org); err != nil || len(names) != limit {
			t.Errorf("round %d: OrgSecretNames = %v, %v; want %d names", round, names, err, limit)
		}
	}
}

func testOrgSecretPagination(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	var want []string
	for i := range 11 {
		name := fmt.Sprintf("KEY_%02d", 10-i) // set out of order
		want = append([]string{name}, want...)
		if _, err := s.SetOrgSecret(ctx, "acme", modelgate.SealedSecret{Name: name, Sealed: sealed("k1", "v")}, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetOrgSecret(ctx, "other", modelgate.SealedSecret{Name: name + "_OTHER", Sealed: sealed("k1", "v")}, 0); err != nil {
			t.Fatal(err)
		}
	}
	for _, limit := range []int{1, 3, 11, 200} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			var got []string
			cursor := ""
			for page := 0; ; page++ {
				if page > 20 {
					t.Fatal("more than 20 pages; the cursor does not advance")
				}
				infos, next, err := s.ListOrgSecrets(ctx, "acme", modelgate.SecretFilter{Limit: limit, Cursor: cursor})
				if err != nil {
					t.Fatalf("ListOrgSecrets(page %d): %v", page, err)
				}
				if len(infos) > limit || (next != "" && len(infos) != limit) {
					t.Fatalf("page %d: %d secrets, limit %d, next %q", page, len(infos), limit, next)
				}
				for _, i := range infos {
					got = append(got, i.Name)
				}
				if next == "" {
					break
				}
				cursor = next
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("secrets over every page (-want +got):\n%s", diff)
			}
		})
	}

	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, bad := range []modelgate.SecretFilter{
		{Limit: 0}, {Limit: 201}, {Limit: -1},
		{Limit: 10, Cursor: "%%% not base64"},
		{Limit: 10, Cursor: enc("KEY_03")},
		{Limit: 10, Cursor: enc("secret ")},
		{Limit: 10, Cursor: enc("2026-01-02T03:04:05Z 0b6d4a4e-6a51-4f5b-8d8e-0d7b3c8f6a10")}, // a workspace cursor
	} {
		if _, _, err := s.ListOrgSecrets(ctx, "acme", bad); modelgate.ErrorCode(err) != modelgate.EInvalidArgument {
			t.Errorf("ListOrgSecrets(%+v) = %v, want INVALID_ARGUMENT", bad, err)
		}
	}
	if infos, next, err := s.ListOrgSecrets(ctx, "nobody", modelgate.SecretFilter{Limit: 5}); err != nil || len(infos) != 0 || next != "" {
		t.Errorf("ListOrgSecrets of an org without secrets = %v, %q, %v; want an empty last page", infos, next, err)
	}
}
