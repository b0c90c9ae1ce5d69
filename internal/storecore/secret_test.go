package storecore_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelgate/modelgate"
	"github.com/modelgate/modelgate/internal/storecore"
)

func TestCheckSecrets_NamesTheSecretNeverTheValue(t *testing.T) {
	t.Parallel()
	const value = "sk-canary-value"
	tests := []struct {
		name    string
		secrets []modelgate.SealedSecret
		want    string
	}{
		{"none", nil, ""},
		{"sealed", []modelgate.SealedSecret{{Name: "A", Sealed: modelgate.Sealed{KeyID: "k", Ciphertext: []byte(value)}}}, ""},
		{"unsealed", []modelgate.SealedSecret{{Name: "A", Sealed: modelgate.Sealed{Ciphertext: []byte(value)}}}, modelgate.EInvalidArgument},
		{"twice", []modelgate.SealedSecret{
			{Name: "A", Sealed: modelgate.Sealed{KeyID: "k", Ciphertext: []byte(value)}},
			{Name: "A", Sealed: modelgate.Sealed{KeyID: "k", Ciphertext: []byte(value)}},
		}, modelgate.EInvalidArgument},
	}
	for _, tt := range tests {
		err := storecore.CheckSecrets(tt.secrets)
		if got := modelgate.ErrorCode(err); got != tt.want {
			t.Errorf("%s: CheckSecrets = %v, want %q", tt.name, err, tt.want)
		}
		if err != nil && (!strings.Contains(err.Error(), "A") || strings.Contains(err.Error(), value)) {
			t.Errorf("%s: error %q must name the secret and not show its value", tt.name, err)
		}
	}
}

func TestSealedRow_OwnerIsWhatTheValueIsSealedTo(t *testing.T) {
	t.Parallel()
	if got := (&storecore.SealedRow{Org: "acme", Name: "A"}).Owner(); got != "acme" {
		t.Errorf("owner of an org secret = %q, want acme", got)
	}
	if got := (&storecore.SealedRow{Org: "acme", WorkspaceID: "w1", Name: "A"}).Owner(); got != "acme/w1" {
		t.Errorf("owner of a workspace secret = %q, want acme/w1", got)
	}
}

func TestReseal_RefusesAnUnsealedResult(t *testing.T) {
	t.Parallel()
	const value = "sk-canary-value"
	r := &storecore.SealedRow{Org: "acme", WorkspaceID: "w1", Name: "A", Sealed: modelgate.Sealed{KeyID: "old", Ciphertext: []byte(value)}}
	var called []string
	s, err := storecore.Reseal(modelgate.ScopeWorkspace, r, func(scope, owner, name string, s modelgate.Sealed) (modelgate.Sealed, error) {
		called = append(called, scope, owner, name, s.KeyID)
		return modelgate.Sealed{KeyID: "new", Ciphertext: []byte{1}}, nil
	})
	if err != nil || s.KeyID != "new" {
		t.Fatalf("Reseal = %v, %v; want the new value", s, err)
	}
	if diff := cmp.Diff([]string{modelgate.ScopeWorkspace, "acme/w1", "A", "old"}, called); diff != "" {
		t.Errorf("reseal called with (-want +got):\n%s", diff)
	}
	for name, reseal := range map[string]storecore.ResealFunc{
		"error": func(string, string, string, modelgate.Sealed) (modelgate.Sealed, error) {
			return modelgate.Sealed{}, errors.New("kms down")
		},
		"no key id": func(string, string, string, modelgate.Sealed) (modelgate.Sealed, error) {
			return modelgate.Sealed{Ciphertext: []byte{1}}, nil
		},
		"no ciphertext": func(string, string, string, modelgate.Sealed) (modelgate.Sealed, error) {
			return modelgate.Sealed{KeyID: "new"}, nil
		},
	} {
		_, err := storecore.Reseal(modelgate.ScopeWorkspace, r, reseal)
		if err == nil || !strings.Contains(err.Error(), "secret A of acme/w1") || strings.Contains(err.Error(), value) {
			t.Errorf("%s: Reseal error %v, want one naming secret A of acme/w1 and not its value", name, err)
		}
	}
}

func TestRotateSecrets_PagesEachTableToItsEnd(t *testing.T) {
	t.Parallel()
	org := storecore.SecretTable{Scope: modelgate.ScopeOrg}
	ws := storecore.SecretTable{Scope: modelgate.ScopeWorkspace}
	// Two batches of org secrets and one of workspace secrets, then none.
	pages := map[string][]int{modelgate.ScopeOrg: {2, 1, 0}, modelgate.ScopeWorkspace: {3, 0}}
	var calls []string
	batch := func(t storecore.SecretTable, after *storecore.SealedRow) (int, *storecore.SealedRow, error) {
		from := "start"
		if after != nil {
			from = after.Name
		}
		calls = append(calls, t.Scope+" after "+from)
		n := pages[t.Scope][0]
		pages[t.Scope] = pages[t.Scope][1:]
		if n == 0 {
			return 0, nil, nil
		}
		return n, &storecore.SealedRow{Name: strings.Repeat("x", n)}, nil
	}
	n, err := storecore.RotateSecrets("k2", noReseal, batch, org, ws)
	if err != nil || n != 6 {
		t.Fatalf("RotateSecrets = %d, %v; want 6, nil", n, err)
	}
	want := []string{"org after start", "org after xx", "org after x", "workspace after start", "workspace after xxx"}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("batches (-want +got):\n%s", diff)
	}
}

func TestRotateSecrets_StopsAtAFailedBatchWithTheCountWritten(t *testing.T) {
	t.Parallel()
	fail := errors.New("disk full")
	calls := 0
	batch := func(storecore.SecretTable, *storecore.SealedRow) (int, *storecore.SealedRow, error) {
		calls++
		if calls == 2 {
			return 0, nil, fail
		}
		return 100, &storecore.SealedRow{}, nil
	}
	n, err := storecore.RotateSecrets("k2", noReseal, batch, storecore.SecretTable{}, storecore.SecretTable{})
	if n != 100 || !errors.Is(err, fail) || calls != 2 {
		t.Errorf("RotateSecrets = %d, %v after %d batches; want 100, %v after 2", n, err, calls, fail)
	}
}

func TestRotateSecrets_NeedsAKeyIDAndAResealFunction(t *testing.T) {
	t.Parallel()
	batch := func(storecore.SecretTable, *storecore.SealedRow) (int, *storecore.SealedRow, error) {
		t.Error("batch called")
		return 0, nil, nil
	}
	for _, tt := range []struct {
		keyID  string
		reseal storecore.ResealFunc
	}{{"", noReseal}, {"k2", nil}} {
		n, err := storecore.RotateSecrets(tt.keyID, tt.reseal, batch, storecore.SecretTable{})
		if n != 0 || modelgate.ErrorCode(err) != modelgate.EInvalidArgument {
			t.Errorf("RotateSecrets(%q, reseal nil: %v) = %d, %v; want INVALID_ARGUMENT", tt.keyID, tt.reseal == nil, n, err)
		}
	}
}

// noReseal is a reseal function for tests whose batches do not call it.
func noReseal(string, string, string, modelgate.Sealed) (modelgate.Sealed, error) {
	return modelgate.Sealed{}, errors.New("reseal called")
}
