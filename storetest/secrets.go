package storetest

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/modelgate/modelgate"
)

func testWorkspaceSecrets(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	nw := newWorkspace("acme", "with secrets")
	nw.Secrets = []modelgate.SealedSecret{
		{Name: "OPENAI_API_KEY", Sealed: sealed("k1", "openai")},
		{Name: "ANTHROPIC_API_KEY", Sealed: sealed("k2", "anthropic")},
	}
	w := create(t, s, nw)
	got, err := s.WorkspaceSecrets(ctx, "acme", w.ID)
	if err != nil {
		t.Fatalf("WorkspaceSecrets: %v", err)
	}
	want := []modelgate.SealedSecret{nw.Secrets[1], nw.Secrets[0]} // by name
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("WorkspaceSecrets (-want +got):\n%s", diff)
	}

	bare := create(t, s, newWorkspace("acme", "without secrets"))
	if got, err := s.WorkspaceSecrets(ctx, "acme", bare.ID); err != nil || len(got) != 0 {
		t.Errorf("WorkspaceSecrets of a workspace without secrets = %v, %v; want none and no error", got, err)
	}

	// Removing a workspace deletes its secrets: nothing will start it again.
	if _, err := s.DeprovisionWorkspace(ctx, "acme", w.ID, w.Name); err != nil {
		t.Fatalf("DeprovisionWorkspace: %v", err)
	}
	if got, err := s.WorkspaceSecrets(ctx, "acme", w.ID); err != nil || len(got) != 0 {
		t.Errorf("WorkspaceSecrets of a removed workspace = %d secrets, %v; want none", len(got), err)
	}
}

func testOrgSecrets(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	if names, err := s.OrgSecretNames(ctx, "acme"); err != nil || len(names) != 0 {
		t.Fatalf("OrgSecretNames of a new org = %v, %v; want none", names, err)
	}
	set := func(name string, v modelgate.Sealed) modelgate.SecretInfo {
		t.Helper()
		before := time.Now()
		info, err := s.SetOrgSecret(ctx, "acme", modelgate.SealedSecret{Name: name, Sealed: v}, 0)
		if err != nil {
			t.Fatalf("SetOrgSecret(%s): %v", name, err)
		}
		if info.Name != name || info.UpdatedAt.Before(before.Add(-time.Microsecond)) {
			t.Errorf("SetOrgSecret(%s) = %+v, want the name and a time after %v", name, info, before)
		}
		wantStoredTime(t, "UpdatedAt", info.UpdatedAt)
		return info
	}
	openai := set("OPENAI_API_KEY", sealed("k1", "openai"))
	anthropic := set("ANTHROPIC_API_KEY", sealed("k1", "anthropic"))

	names, err := s.OrgSecretNames(ctx, "acme")
	if err != nil {
		t.Fatalf("OrgSecretNames: %v", err)
	}
	if diff := cmp.Diff([]string{"ANTHROPIC_API_KEY", "OPENAI_API_KEY"}, names); diff != "" {
		t.Errorf("OrgSecretNames (-want +got):\n%s", diff)
	}
	infos, _, err := s.ListOrgSecrets(ctx, "acme", modelgate.SecretFilter{Limit: 200})
	if err != nil {
		t.Fatalf("ListOrgSecrets: %v", err)
	}
	if diff := cmp.Diff([]modelgate.SecretInfo{anthropic, openai}, infos); diff != "" {
		t.Errorf("ListOrgSecrets (-want +got):\n%s", diff)
	}
	diffJSON(t, "ListOrgSecrets", []modelgate.SecretInfo{anthropic, openai}, infos)

	// Replacing keeps one secret of the name, with the new value and time.
	tick(anthropic.UpdatedAt)
	replaced := set("ANTHROPIC_API_KEY", sealed("k2", "anthropic, rotated by hand"))
	if !replaced.UpdatedAt.After(anthropic.UpdatedAt) {
		t.Errorf("UpdatedAt after replace = %v, want after %v", replaced.UpdatedAt, anthropic.UpdatedAt)
	}
	secrets, err := s.OrgSecrets(ctx, "acme")
	if err != nil {
		t.Fatalf("OrgSecrets: %v", err)
	}
	want := []modelgate.SealedSecret{
		{Name: "ANTHROPIC_API_KEY", Sealed: sealed("k2", "anthropic, rotated by hand")},
		{Name: "OPENAI_API_KEY", Sealed: sealed("k1", "openai")},
	}
	if diff := cmp.Diff(want, secrets); diff != "" {
		t.Errorf("OrgSecrets (-want +got):\n%s", diff)
	}

	if deleted, err := s.DeleteOrgSecret(ctx, "acme", "ANTHROPIC_API_KEY"); err != nil || !deleted {
		t.Errorf("DeleteOrgSecret = %v, %v; want true", deleted, err)
	}
	if deleted, err := s.DeleteOrgSecret(ctx, "acme", "ANTHROPIC_API_KEY"); err != nil || deleted {
		t.Errorf("DeleteOrgSecret again = %v, %v; want false", deleted, err)
	}
	if names, _ := s.OrgSecretNames(ctx, "acme"); !cmp.Equal(names, []string{"OPENAI_API_KEY"}) {
		t.Errorf("OrgSecretNames after delete = %v", names)
	}

	for _, bad := range []modelgate.SealedSecret{{Name: "", Sealed: sealed("k1", "v")}, {Name: "K", Sealed: modelgate.Sealed{KeyID: "k1"}}} {
		writesNothing(t, s, func() {
			_, err := s.SetOrgSecret(ctx, "acme", bad, 0)
			wantCode(t, err, modelgate.EInvalidArgument)
		})
	}
	_, err = s.SetOrgSecret(ctx, "", modelgate.SealedSecret{Name: "K", Sealed: sealed("k1", "v")}, 0)
	wantCode(t, err, modelgate.EInvalidArgument)
}

// rotation is a reseal function that records its calls.
type rotation struct {
	mu    sync.Mutex
	calls []string // "scope owner name"
	fail  string   // a name to fail on
}

func (r *rotation) reseal(scope, owner, name string, s modelgate.Sealed) (modelgate.Sealed, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, scope+" "+owner+" "+name)
	if name == r.fail {
		return modelgate.Sealed{}, errors.New("the key service is down")
	}
	return modelgate.Sealed{KeyID: "k2", Ciphertext: append([]byte("k2:"), s.Ciphertext...)}, nil
}

func testRotate(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	var wantCalls []string
	// More than one batch of org secrets in one org.
	for i := range 130 {
		name := fmt.Sprintf("KEY_%03d", i)
		if _, err := s.SetOrgSecret(ctx, "acme", modelgate.SealedSecret{Name: name, Sealed: sealed("k1", name)}, 0); err != nil {
			t.Fatalf("SetOrgSecret: %v", err)
		}
		wantCalls = append(wantCalls, "org acme "+name)
	}
	for _, sec := range []modelgate.SealedSecret{
		{Name: "CURRENT", Sealed: sealed("k2", "already current")},
		{Name: "OLD", Sealed: sealed("k0", "older still")},
	} {
		if _, err := s.SetOrgSecret(ctx, "beta", sec, 0); err != nil {
			t.Fatalf("SetOrgSecret: %v", err)
		}
	}
	wantCalls = append(wantCalls, "org beta OLD")
	nw := newWorkspace("acme", "w")
	nw.Secrets = []modelgate.SealedSecret{{Name: "A_KEY", Sealed: sealed("k1", "a")}, {Name: "B_KEY", Sealed: sealed("k2", "b")}}
	w := create(t, s, nw)
	nw2 := newWorkspace("beta", "w")
	nw2.Secrets = []modelgate.SealedSecret{{Name: "A_KEY", Sealed: sealed("k1", "beta a")}}
	w2 := create(t, s, nw2)
	// A workspace secret is sealed to its org and workspace.
	wantCalls = append(wantCalls, "workspace acme/"+w.ID+" A_KEY", "workspace beta/"+w2.ID+" A_KEY")
	infosBefore, _, err := s.ListOrgSecrets(ctx, "acme", modelgate.SecretFilter{Limit: 200})
	if err != nil {
		t.Fatalf("ListOrgSecrets: %v", err)
	}

	r := &rotation{}
	n, err := s.RotateSecrets(ctx, "k2", r.reseal)
	if err != nil {
		t.Fatalf("RotateSecrets: %v", err)
	}
	if n != len(wantCalls) {
		t.Errorf("RotateSecrets = %d, want %d", n, len(wantCalls))
	}
	sort.Strings(r.calls)
	sort.Strings(wantCalls)
	if diff := cmp.Diff(wantCalls, r.calls); diff != "" {
		t.Errorf("reseal calls (-want +got):\n%s", diff)
	}

	secrets, err := s.OrgSecrets(ctx, "acme")
	if err != nil {
		t.Fatalf("OrgSecrets: %v", err)
	}
	for _, sec := range secrets {
		if want := (modelgate.Sealed{KeyID: "k2", Ciphertext: append([]byte("k2:"), sealed("k1", sec.Name).Ciphertext...)}); !cmp.Equal(want, sec.Sealed) {
			t.Errorf("org secret %s = %v, want %v", sec.Name, sec.Sealed, want)
		}
	}
	beta, _ := s.OrgSecrets(ctx, "beta")
	wantBeta := []modelgate.SealedSecret{
		{Name: "CURRENT", Sealed: sealed("k2", "already current")},
		{Name: "OLD", Sealed: modelgate.Sealed{KeyID: "k2", Ciphertext: append([]byte("k2:"), sealed("k0", "older still").Ciphertext...)}},
	}
	if diff := cmp.Diff(wantBeta, beta); diff != "" {
		t.Errorf("beta's org secrets (-want +got):\n%s", diff)
	}
	ws, _ := s.WorkspaceSecrets(ctx, "acme", w.ID)
	wantWS := []modelgate.SealedSecret{
		{Name: "A_KEY", Sealed: modelgate.Sealed{KeyID: "k2", Ciphertext: append([]byte("k2:"), sealed("k1", "a").Ciphertext...)}},
		{Name: "B_KEY", Sealed: sealed("k2", "b")},
	}
	if diff := cmp.Diff(wantWS, ws); diff != "" {
		t.Errorf("workspace secrets (-want +got):\n%s", diff)
	}
	ws2, _ := s.WorkspaceSecrets(ctx, "beta", w2.ID)
	if len(ws2) != 1 || ws2[0].Sealed.KeyID != "k2" {
		t.Errorf("beta's workspace secrets = %v, want resealed", ws2)
	}
	// Resealing keeps the value, so the time it was set stays.
	infosAfter, _, _ := s.ListOrgSecrets(ctx, "acme", modelgate.SecretFilter{Limit: 200})
	if diff := cmp.Diff(infosBefore, infosAfter); diff != "" {
		t.Errorf("RotateSecrets changed UpdatedAt (-before +after):\n%s", diff)
	}

	// Nothing is stale any more.
	again := &rotation{}
	if n, err := s.RotateSecrets(ctx, "k2", again.reseal); n != 0 || err != nil || len(again.calls) != 0 {
		t.Errorf("second RotateSecrets = %d, %v with %d calls; want 0, nil, none", n, err, len(again.calls))
	}
	_, err = s.RotateSecrets(ctx, "", again.reseal)
	wantCode(t, err, modelgate.EInvalidArgument)
}

func testRotateError(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	value := sealed("k1", "do not leak me")
	for _, name := range []string{"A", "B", "C"} {
		if _, err := s.SetOrgSecret(ctx, "acme", modelgate.SealedSecret{Name: name, Sealed: value}, 0); err != nil {
			t.Fatalf("SetOrgSecret: %v", err)
		}
	}
	r := &rotation{fail: "B"}
	n, err := s.RotateSecrets(ctx, "k2", r.reseal)
	if err == nil {
		t.Fatal("RotateSecrets succeeded although reseal failed")
	}
	if n != 0 {
		t.Errorf("RotateSecrets = %d, want 0: the failed batch is not written", n)
	}
	if !errorsContain(err, "the key service is down") || errorsContain(err, string(value.Ciphertext), "do not leak me") {
		t.Errorf("RotateSecrets error %q: want reseal's error and no ciphertext", err)
	}
	secrets, _ := s.OrgSecrets(ctx, "acme")
	for _, sec := range secrets {
		if !cmp.Equal(value, sec.Sealed) {
			t.Errorf("secret %s was written although its batch failed: %v", sec.Name, sec.Sealed)
		}
	}
}

func testSecretKeyIDs(t *testing.T, s modelgate.Store) {
	ctx := t.Context()
	if got, err := s.SecretKeyIDs(ctx); err != nil || len(got) != 0 {
		t.Fatalf("SecretKeyIDs of an empty store = %v, %v; want none", got, err)
	}
	nw := newWorkspace("acme", "w")
	nw.Secrets = []modelgate.SealedSecret{{Name: "A_KEY", Sealed: sealed("kw", "a")}, {Name: "B_KEY", Sealed: sealed("k1", "b")}}
	create(t, s, nw)
	for org, id := range map[string]string{"acme": "k1", "other": "k2"} {
		if _, err := s.SetOrgSecret(ctx, org, modelgate.SealedSecret{Name: "C_KEY", Sealed: sealed(id, "c")}, 0); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.SecretKeyIDs(ctx)
	if err != nil {
		t.Fatalf("SecretKeyIDs: %v", err)
	}
	if diff := cmp.Diff([]string{"k1", "k2", "kw"}, got); diff != "" {
		t.Errorf("SecretKeyIDs (-want +got):\n%s", diff)
	}
}
