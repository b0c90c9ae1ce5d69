package secrets

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/modelgate/modelgate"
)

// testValue is the plaintext most tests seal; no error may contain it.
const testValue = "sk-ant-api03-test-value-do-not-leak"

// testBundle holds the keys behind the keyring that setup returns.
type testBundle struct {
	current, previous []byte
}

// setup returns a keyring with a current and one previous key.
func setup(t testing.TB) (*Keyring, *testBundle) {
	t.Helper()
	tb := &testBundle{current: newKey(t), previous: newKey(t)}
	k, err := NewKeyring(tb.current, tb.previous)
	if err != nil {
		t.Fatalf("NewKeyring: %v", err)
	}
	return k, tb
}

func newKey(t testing.TB) []byte {
	t.Helper()
	key := make([]byte, KeySize)
	rand.Read(key)
	return key
}

func mustKeyring(t testing.TB, current []byte, previous ...[]byte) *Keyring {
	t.Helper()
	k, err := NewKeyring(current, previous...)
	if err != nil {
		t.Fatalf("NewKeyring: %v", err)
	}
	return k
}

func mustSeal(t testing.TB, k *Keyring, scope, owner, name string, value []byte) modelgate.Sealed {
	t.Helper()
	s, err := k.Seal(scope, owner, name, value)
	if err != nil {
		t.Fatalf("Seal(%s, %s, %s): %v", scope, owner, name, err)
	}
	return s
}

// assertNoLeak fails if err's text holds the value or any form of a key.
func assertNoLeak(t *testing.T, err error, value string, keys ...[]byte) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	if value != "" && strings.Contains(msg, value) {
		t.Errorf("error %q contains the value", msg)
	}
	for _, key := range keys {
		for _, form := range []string{string(key), hex.EncodeToString(key), base64.StdEncoding.EncodeToString(key), base64.RawURLEncoding.EncodeToString(key)} {
			if strings.Contains(msg, form) {
				t.Errorf("error %q contains a key", msg)
			}
		}
	}
}

func TestKeyring_SealThenOpenReturnsTheValue(t *testing.T) {
	t.Parallel()
	k, _ := setup(t)
	tests := []struct {
		name                  string
		scope, owner, secName string
		value                 []byte
	}{
		{"org secret", ScopeOrg, "acme", "ANTHROPIC_API_KEY", []byte(testValue)},
		{"workspace secret", ScopeWorkspace, "acme/0b6d4e2a", "OPENAI_API_KEY", []byte(testValue)},
		{"empty value", ScopeOrg, "acme", "EMPTY", []byte{}},
		{"binary value", ScopeOrg, "acme", "BIN", []byte{0, 1, 2, 0xff, 0xfe, 0}},
		{"long value", ScopeOrg, "acme", "LONG", bytes.Repeat([]byte("x"), 64<<10)},
		{"unicode owner", ScopeOrg, "Zürich", "K", []byte("v")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := mustSeal(t, k, tt.scope, tt.owner, tt.secName, tt.value)
			if s.KeyID != k.CurrentKeyID() {
				t.Errorf("KeyID = %q, want current %q", s.KeyID, k.CurrentKeyID())
			}
			if want := 12 + len(tt.value) + 16; len(s.Ciphertext) != want {
				t.Errorf("len(Ciphertext) = %d, want nonce+value+tag = %d", len(s.Ciphertext), want)
			}
			if len(tt.value) >= 8 && bytes.Contains(s.Ciphertext, tt.value) {
				t.Errorf("Ciphertext contains the plaintext")
			}
			got, err := k.Open(tt.scope, tt.owner, tt.secName, s)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tt.value) {
				t.Errorf("Open = %q, want %q", got, tt.value)
			}
		})
	}
}

func TestKeyring_SealUsesAFreshNonceEachTime(t *testing.T) {
	t.Parallel()
	k, _ := setup(t)
	a := mustSeal(t, k, ScopeOrg, "acme", "K", []byte(testValue))
	b := mustSeal(t, k, ScopeOrg, "acme", "K", []byte(testValue))
	if bytes.Equal(a.Ciphertext[:12], b.Ciphertext[:12]) || bytes.Equal(a.Ciphertext, b.Ciphertext) {
		t.Errorf("two seals of one value share a nonce or a ciphertext")
	}
}

func TestKeyring_ValueMovedToAnotherRowDoesNotOpen(t *testing.T) {
	t.Parallel()
	k, _ := setup(t)
	type row struct{ scope, owner, name string }
	tests := []struct {
		name       string
		sealed, at row
	}{
		{"other name", row{ScopeOrg, "acme", "ANTHROPIC_API_KEY"}, row{ScopeOrg, "acme", "OPENAI_API_KEY"}},
		{"other org", row{ScopeOrg, "acme", "ANTHROPIC_API_KEY"}, row{ScopeOrg, "globex", "ANTHROPIC_API_KEY"}},
		{"other workspace", row{ScopeWorkspace, "acme/ws1", "K"}, row{ScopeWorkspace, "acme/ws2", "K"}},
		{"same workspace id in other org", row{ScopeWorkspace, "acme/ws1", "K"}, row{ScopeWorkspace, "globex/ws1", "K"}},
		{"other scope", row{ScopeWorkspace, "acme/ws1", "K"}, row{ScopeOrg, "acme/ws1", "K"}},
		{"owner/name boundary", row{ScopeOrg, "aB", "C"}, row{ScopeOrg, "a", "BC"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := mustSeal(t, k, tt.sealed.scope, tt.sealed.owner, tt.sealed.name, []byte(testValue))
			got, err := k.Open(tt.at.scope, tt.at.owner, tt.at.name, s)
			if !errors.Is(err, errAuth) {
				t.Fatalf("Open at %v = %q, %v; want errAuth", tt.at, got, err)
			}
			assertNoLeak(t, err, testValue)
		})
	}
}

func TestKeyring_TamperedCiphertextDoesNotOpen(t *testing.T) {
	t.Parallel()
	k, _ := setup(t)
	s := mustSeal(t, k, ScopeOrg, "acme", "K", []byte(testValue))
	flip := func(i int) []byte {
		c := bytes.Clone(s.Ciphertext)
		c[i] ^= 0x01
		return c
	}
	tests := []struct {
		name       string
		ciphertext []byte
	}{
		{"nonce byte flipped", flip(0)},
		{"ciphertext byte flipped", flip(12)},
		{"tag byte flipped", flip(len(s.Ciphertext) - 1)},
		{"truncated", s.Ciphertext[:len(s.Ciphertext)-1]},
		{"extended", append(bytes.Clone(s.Ciphertext), 0)},
		{"shorter than a nonce", s.Ciphertext[:5]},
		{"empty", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := k.Open(ScopeOrg, "acme", "K", modelgate.Sealed{KeyID: s.KeyID, Ciphertext: tt.ciphertext})
			if !errors.Is(err, errAuth) {
				t.Fatalf("Open = %q, %v; want errAuth", got, err)
			}
		})
	}
}

func TestKeyring_ValueSealedWithOldKeyOpensAfterRotation(t *testing.T) {
	t.Parallel()
	oldKey, newKey := newKey(t), newKey(t)
	before := mustKeyring(t, oldKey)
	s := mustSeal(t, before, ScopeWorkspace, "acme/ws1", "K", []byte(testValue))

	after := mustKeyring(t, newKey, oldKey)
	if s.KeyID != KeyID(oldKey) || after.CurrentKeyID() != KeyID(newKey) {
		t.Fatalf("KeyID = %q, current = %q; want old %q, new %q", s.KeyID, after.CurrentKeyID(), KeyID(oldKey), KeyID(newKey))
	}
	got, err := after.Open(ScopeWorkspace, "acme/ws1", "K", s)
	if err != nil || string(got) != testValue {
		t.Fatalf("Open with previous key = %q, %v; want the value", got, err)
	}

	resealed, err := after.Reseal(ScopeWorkspace, "acme/ws1", "K", s)
	if err != nil {
		t.Fatalf("Reseal: %v", err)
	}
	if resealed.KeyID != KeyID(newKey) {
		t.Errorf("resealed KeyID = %q, want current %q", resealed.KeyID, KeyID(newKey))
	}
	// Once every row is resealed the old key can go.
	newOnly := mustKeyring(t, newKey)
	got, err = newOnly.Open(ScopeWorkspace, "acme/ws1", "K", resealed)
	if err != nil || string(got) != testValue {
		t.Errorf("Open resealed with new key only = %q, %v; want the value", got, err)
	}
	if _, err := newOnly.Open(ScopeWorkspace, "acme/ws1", "K", s); !errors.Is(err, errUnknownKey) {
		t.Errorf("Open old value with new key only: err = %v, want errUnknownKey", err)
	}
}

func TestKeyring_ResealKeepsTheRowBinding(t *testing.T) {
	t.Parallel()
	k, tb := setup(t)
	old := mustSeal(t, mustKeyring(t, tb.previous), ScopeOrg, "acme", "K", []byte(testValue))
	if _, err := k.Reseal(ScopeOrg, "globex", "K", old); !errors.Is(err, errAuth) {
		t.Errorf("Reseal into another org: err = %v, want errAuth", err)
	}
	resealed, err := k.Reseal(ScopeOrg, "acme", "K", old)
	if err != nil {
		t.Fatalf("Reseal: %v", err)
	}
	if _, err := k.Open(ScopeOrg, "globex", "K", resealed); !errors.Is(err, errAuth) {
		t.Errorf("Open resealed value in another org: err = %v, want errAuth", err)
	}
}

func TestKeyring_UnknownKeyIDIsAnError(t *testing.T) {
	t.Parallel()
	k, tb := setup(t)
	other := newKey(t)
	s := mustSeal(t, mustKeyring(t, other), ScopeOrg, "acme", "K", []byte(testValue))
	_, err := k.Open(ScopeOrg, "acme", "K", s)
	if !errors.Is(err, errUnknownKey) {
		t.Fatalf("Open: err = %v, want errUnknownKey", err)
	}
	if !strings.Contains(err.Error(), s.KeyID) {
		t.Errorf("error %q does not name the key id %s", err, s.KeyID)
	}
	assertNoLeak(t, err, testValue, other, tb.current, tb.previous)

	// A row that claims a known key id but was sealed with another key.
	forged := modelgate.Sealed{KeyID: k.CurrentKeyID(), Ciphertext: s.Ciphertext}
	if _, err := k.Open(ScopeOrg, "acme", "K", forged); !errors.Is(err, errAuth) {
		t.Errorf("Open forged key id: err = %v, want errAuth", err)
	}
}

func TestKeyring_InvalidRowIsRefused(t *testing.T) {
	t.Parallel()
	k, _ := setup(t)
	valid := mustSeal(t, k, ScopeOrg, "acme", "K", []byte(testValue))
	tests := []struct {
		name, scope, owner, secName string
	}{
		{"unknown scope", "platform", "acme", "K"},
		{"empty scope", "", "acme", "K"},
		{"org without owner", ScopeOrg, "", "K"},
		{"workspace owner without workspace", ScopeWorkspace, "acme", "K"},
		{"workspace owner with empty org", ScopeWorkspace, "/ws1", "K"},
		{"workspace owner with empty workspace", ScopeWorkspace, "acme/", "K"},
		{"invalid name", ScopeOrg, "acme", "lower"},
		{"empty name", ScopeOrg, "acme", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := k.Seal(tt.scope, tt.owner, tt.secName, []byte(testValue))
			if err == nil {
				t.Errorf("Seal succeeded, want an error")
			}
			assertNoLeak(t, err, testValue)
			if _, err := k.Open(tt.scope, tt.owner, tt.secName, valid); err == nil || errors.Is(err, errAuth) {
				t.Errorf("Open: err = %v, want an argument error", err)
			}
			if _, err := k.Reseal(tt.scope, tt.owner, tt.secName, valid); err == nil {
				t.Errorf("Reseal succeeded, want an error")
			}
		})
	}
}

func TestNewKeyring_RefusesKeysOfTheWrongSize(t *testing.T) {
	t.Parallel()
	good := newKey(t)
	tests := []struct {
		name     string
		current  []byte
		previous [][]byte
	}{
		{"nil current", nil, nil},
		{"16-byte current", good[:16], nil},
		{"33-byte current", append(bytes.Clone(good), 0), nil},
		{"short previous", good, [][]byte{good[:31]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if k, err := NewKeyring(tt.current, tt.previous...); err == nil {
				t.Errorf("NewKeyring = %v, want an error", k)
			}
		})
	}
}

func TestNewKeyring_DoesNotKeepTheCallersKey(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	k := mustKeyring(t, bytes.Clone(key))
	s := mustSeal(t, k, ScopeOrg, "acme", "K", []byte(testValue))
	// Zeroing the caller's copy (as KeyringFromEnv does) must not matter.
	arg := bytes.Clone(key)
	k2 := mustKeyring(t, arg)
	clear(arg)
	if got, err := k2.Open(ScopeOrg, "acme", "K", s); err != nil || string(got) != testValue {
		t.Errorf("Open after zeroing the key argument = %q, %v; want the value", got, err)
	}
}

func TestKeyring_ZeroValueRefusesToSeal(t *testing.T) {
	t.Parallel()
	var k Keyring
	if _, err := k.Seal(ScopeOrg, "acme", "K", []byte(testValue)); !errors.Is(err, errNoKey) {
		t.Errorf("Seal: err = %v, want errNoKey", err)
	}
	if _, err := k.Open(ScopeOrg, "acme", "K", modelgate.Sealed{}); !errors.Is(err, errUnknownKey) {
		t.Errorf("Open: err = %v, want errUnknownKey", err)
	}
}

func TestKeyring_FormatsAsKeyIDsOnly(t *testing.T) {
	t.Parallel()
	k, tb := setup(t)
	tests := []struct {
		name    string
		arg     any
		wantIDs bool // fmt cannot call String on an unexported field
	}{
		{"pointer", k, true},
		{"value", *k, true},
		{"exported fields", struct {
			K  *Keyring
			KV Keyring
		}{k, *k}, true},
		{"unexported field", struct{ k Keyring }{*k}, false},
	}
	for _, tt := range tests {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			out := fmt.Sprintf(verb, tt.arg)
			assertNoLeak(t, errors.New(out), "", tb.current, tb.previous)
			if tt.wantIDs && (!strings.Contains(out, KeyID(tb.current)) || !strings.Contains(out, KeyID(tb.previous))) {
				t.Errorf("%s: Sprintf(%s) = %q, want both key ids", tt.name, verb, out)
			}
		}
	}
}

func BenchmarkKeyring_Seal(b *testing.B) {
	k, _ := setup(b)
	value := []byte(testValue)
	b.SetBytes(int64(len(value)))
	for b.Loop() {
		if _, err := k.Seal(ScopeWorkspace, "acme/0b6d4e2a", "ANTHROPIC_API_KEY", value); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkKeyring_Open(b *testing.B) {
	k, _ := setup(b)
	s := mustSeal(b, k, ScopeWorkspace, "acme/0b6d4e2a", "ANTHROPIC_API_KEY", []byte(testValue))
	b.SetBytes(int64(len(testValue)))
	for b.Loop() {
		if _, err := k.Open(ScopeWorkspace, "acme/0b6d4e2a", "ANTHROPIC_API_KEY", s); err != nil {
			b.Fatal(err)
		}
	}
}
