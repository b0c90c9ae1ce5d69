package secrets

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

func TestKeyID_IsStableShortHex(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{0x42}, KeySize)
	id := KeyID(key)
	if len(id) != 16 {
		t.Fatalf("KeyID = %q, want 16 hex characters", id)
	}
	if _, err := hex.DecodeString(id); err != nil {
		t.Errorf("KeyID = %q is not hex: %v", id, err)
	}
	if KeyID(bytes.Clone(key)) != id {
		t.Errorf("KeyID is not stable")
	}
	if KeyID(newKey(t)) == id {
		t.Errorf("two keys share an id")
	}
	if strings.Contains(id, hex.EncodeToString(key)[:16]) {
		t.Errorf("KeyID %q reveals the key", id)
	}
}

func TestParseKey_AcceptsEveryBase64Form(t *testing.T) {
	t.Parallel()
	// 0xfb 0xff 0xbf encodes as "+/+/", so the std and URL forms differ.
	key := bytes.Repeat([]byte{0xfb, 0xff, 0xbf}, 11)[:KeySize]
	tests := []struct {
		name, in string
	}{
		{"std", base64.StdEncoding.EncodeToString(key)},
		{"raw std", base64.RawStdEncoding.EncodeToString(key)},
		{"url", base64.URLEncoding.EncodeToString(key)},
		{"raw url", base64.RawURLEncoding.EncodeToString(key)},
		{"trailing newline", base64.StdEncoding.EncodeToString(key) + "\n"},
		{"surrounding spaces", "  " + base64.StdEncoding.EncodeToString(key) + " "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseKey(tt.in)
			if err != nil {
				t.Fatalf("ParseKey(%q): %v", tt.in, err)
			}
			if !bytes.Equal(got, key) {
				t.Errorf("ParseKey(%q) = %x, want %x", tt.in, got, key)
			}
		})
	}
}

func TestParseKey_RefusesWithoutEchoingTheInput(t *testing.T) {
	t.Parallel()
	key := newKey(t)
	tests := []struct {
		name, in string
	}{
		{"empty", ""},
		{"blank", " \n"},
		{"not base64", "this is not base64 at all!!"},
		{"16 bytes", base64.StdEncoding.EncodeToString(key[:16])},
		{"31 bytes", base64.StdEncoding.EncodeToString(key[:31])},
		{"33 bytes", base64.StdEncoding.EncodeToString(append(bytes.Clone(key), 1))},
		{"hex of 32 bytes", hex.EncodeToString(key)},
		{"two keys", base64.StdEncoding.EncodeToString(key) + "," + base64.StdEncoding.EncodeToString(key)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseKey(tt.in)
			if err == nil {
				t.Fatalf("ParseKey = %x, want an error", got)
			}
			if in := strings.TrimSpace(tt.in); in != "" && strings.Contains(err.Error(), in) {
				t.Errorf("error %q contains the input", err)
			}
			assertNoLeak(t, err, "", key)
		})
	}
}

func TestKeyringFromEnv(t *testing.T) {
	t.Parallel()
	current, old1, old2 := newKey(t), newKey(t), newKey(t)
	enc := base64.StdEncoding.EncodeToString
	tests := []struct {
		name    string
		env     map[string]string
		wantOK  bool
		wantErr string // a substring of the error; "" for none
		opens   [][]byte
	}{
		{name: "unset", env: nil},
		{name: "blank", env: map[string]string{EnvKey: "  "}},
		{
			name:   "current only",
			env:    map[string]string{EnvKey: enc(current)},
			wantOK: true, opens: [][]byte{current},
		},
		{
			name:   "with previous keys",
			env:    map[string]string{EnvKey: enc(current), EnvPreviousKeys: " " + enc(old1) + ",," + base64.RawURLEncoding.EncodeToString(old2) + ","},
			wantOK: true, opens: [][]byte{current, old1, old2},
		},
		{
			name:    "bad current",
			env:     map[string]string{EnvKey: enc(current[:20])},
			wantErr: EnvKey,
		},
		{
			name:    "bad previous",
			env:     map[string]string{EnvKey: enc(current), EnvPreviousKeys: enc(old1) + "," + enc(old2[:31])},
			wantErr: EnvPreviousKeys + " entry 2",
		},
		{
			name:    "previous without current",
			env:     map[string]string{EnvPreviousKeys: enc(old1)},
			wantErr: EnvPreviousKeys,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			k, ok, err := KeyringFromEnv(func(name string) string { return tt.env[name] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tt.wantErr)
				}
				for _, v := range tt.env {
					if strings.Contains(err.Error(), strings.TrimSpace(v)) {
						t.Errorf("error %q contains an environment value", err)
					}
				}
				assertNoLeak(t, err, "", current, old1, old2)
				return
			}
			if err != nil || ok != tt.wantOK {
				t.Fatalf("KeyringFromEnv = %v, %v, %v; want ok=%v and no error", k, ok, err, tt.wantOK)
			}
			if !ok {
				return
			}
			if k.CurrentKeyID() != KeyID(current) {
				t.Errorf("CurrentKeyID = %s, want %s", k.CurrentKeyID(), KeyID(current))
			}
			for _, key := range tt.opens {
				s := mustSeal(t, mustKeyring(t, key), ScopeOrg, "acme", "K", []byte(testValue))
				if got, err := k.Open(ScopeOrg, "acme", "K", s); err != nil || string(got) != testValue {
					t.Errorf("Open value sealed with key %s = %q, %v", KeyID(key), got, err)
				}
			}
		})
	}
}

func skipModesOnWindows(t *testing.T) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("Windows has no group/other permission bits")
	}
}

func TestLoadOrCreateKeyFile_CreatesAPrivateKeyAndReusesIt(t *testing.T) {
	t.Parallel()
	skipModesOnWindows(t)
	dir := filepath.Join(t.TempDir(), "data", "nested")
	key, err := LoadOrCreateKeyFile(dir)
	if err != nil {
		t.Fatalf("first call: %v", err)
	}
	if len(key) != KeySize {
		t.Fatalf("key is %d bytes, want %d", len(key), KeySize)
	}
	path := filepath.Join(dir, KeyFileName)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode = %04o, want 0600", perm)
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := di.Mode().Perm(); perm&0o077 != 0 {
		t.Errorf("created dir mode = %04o, want no group/other access", perm)
	}
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if fromFile, err := ParseKey(string(text)); err != nil || !bytes.Equal(fromFile, key) {
		t.Errorf("file holds %q, want the base64 of the returned key", text)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("dir holds %d entries, want only %s (no temporary file left)", len(entries), KeyFileName)
	}

	again, err := LoadOrCreateKeyFile(dir)
	if err != nil {
		t.Fatalf("second call: %v", err)
	}
	if !bytes.Equal(again, key) {
		t.Errorf("second call returned another key")
	}
}

func TestLoadOrCreateKeyFile_ConcurrentCallersGetTheSameKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const n = 16
	keys := make([][]byte, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { keys[i], errs[i] = LoadOrCreateKeyFile(dir) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if !bytes.Equal(keys[i], keys[0]) {
			t.Errorf("caller %d got another key than caller 0", i)
		}
	}
}

func TestLoadOrCreateKeyFile_ChecksAnExistingFile(t *testing.T) {
	t.Parallel()
	skipModesOnWindows(t)
	key := newKey(t)
	encoded := base64.StdEncoding.EncodeToString(key)
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		wantErr bool
	}{
		{"owner read-write", encoded + "\n", 0o600, false},
		{"owner read-only", encoded, 0o400, false},
		{"world readable", encoded + "\n", 0o644, true},
		{"group readable", encoded + "\n", 0o640, true},
		{"other writable", encoded + "\n", 0o602, true},
		{"not a key", "not a key\n", 0o600, true},
		{"empty", "", 0o600, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := filepath.Join(dir, KeyFileName)
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil { // not subject to umask
				t.Fatal(err)
			}
			got, err := LoadOrCreateKeyFile(dir)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("LoadOrCreateKeyFile succeeded, want an error")
				}
				if c := strings.TrimSpace(tt.content); c != "" && strings.Contains(err.Error(), c) {
					t.Errorf("error %q contains the file content", err)
				}
				assertNoLeak(t, err, "", key)
				after, _ := os.ReadFile(path)
				if string(after) != tt.content {
					t.Errorf("the refused file was changed")
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadOrCreateKeyFile: %v", err)
			}
			if !bytes.Equal(got, key) {
				t.Errorf("returned another key than the file's")
			}
		})
	}
}

func TestLoadOrCreateKeyFile_RefusesADirectoryAsKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, KeyFileName), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKeyFile(dir); err == nil || errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want a not-a-regular-file error", err)
	}
}

func TestGenerateKey_IsAFreshKeyOfTheRightSize(t *testing.T) {
	t.Parallel()
	a, b := GenerateKey(), GenerateKey()
	if len(a) != KeySize || len(b) != KeySize || string(a) == string(b) {
		t.Fatalf("GenerateKey gave %d and %d bytes, equal=%v", len(a), len(b), string(a) == string(b))
	}
}
