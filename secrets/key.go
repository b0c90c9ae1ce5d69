package secrets

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// EnvKey is the environment variable holding the base64 (std encoding) of
// the current 32-byte key.
const EnvKey = "MODELGATE_SECRETS_KEY"

// EnvPreviousKeys is the environment variable holding comma-separated base64
// keys that can still open old values, for rotation.
const EnvPreviousKeys = "MODELGATE_SECRETS_PREVIOUS_KEYS"

// KeyFileName is the file created in the data dir when no key is configured
// (embedded store only).
const KeyFileName = "secrets.key"

// KeyID returns the id of a key: the first 16 hex characters of the SHA-256
// of the key. It is stable and does not help recover the key, so it is
// stored next to every sealed value and may be logged.
func KeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:8])
}

// keyEncodings are the encodings ParseKey accepts, tried in order. A 32-byte
// key is valid in at most one of them, so the order does not matter.
var keyEncodings = []*base64.Encoding{
	base64.StdEncoding,
	base64.RawStdEncoding,
	base64.URLEncoding,
	base64.RawURLEncoding,
}

// ParseKey decodes the base64 of a KeySize-byte key; standard, raw standard
// and URL encodings (padded or not) are accepted and surrounding white space
// is ignored. It returns an error, which never contains the input, when s is
// empty, not base64, or not KeySize bytes long.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("key is empty")
	}
	for _, enc := range keyEncodings {
		key, err := enc.DecodeString(s)
		if err != nil {
			continue
		}
		if len(key) != KeySize {
			clear(key)
			return nil, fmt.Errorf("key decodes to %d bytes, want %d", len(key), KeySize)
		}
		return key, nil
	}
	// The base64 errors are not wrapped: they quote an offset into the key.
	return nil, fmt.Errorf("key is not base64 of %d bytes", KeySize)
}

// KeyringFromEnv builds a keyring from EnvKey and EnvPreviousKeys, read with
// getenv (os.Getenv in production, a map in tests). It returns ok=false and
// no error when EnvKey is unset or blank, so that the caller can fall back to
// a key file. It returns an error, naming the variable but never its value,
// when a key does not parse, or when EnvPreviousKeys is set without EnvKey
// (falling back to a key file would then silently ignore the operator's keys).
func KeyringFromEnv(getenv func(string) string) (k *Keyring, ok bool, err error) {
	current := strings.TrimSpace(getenv(EnvKey))
	previous := strings.TrimSpace(getenv(EnvPreviousKeys))
	if current == "" {
		if previous != "" {
			return nil, false, fmt.Errorf("secrets: %s is set but %s is not", EnvPreviousKeys, EnvKey)
		}
		return nil, false, nil
	}
	var keys [][]byte
	// NewKeyring keeps no raw key, so the decoded bytes can go.
	defer func() {
		for _, key := range keys {
			clear(key)
		}
	}()
	key, err := ParseKey(current)
	if err != nil {
		return nil, false, fmt.Errorf("secrets: %s: %w", EnvKey, err)
	}
	keys = append(keys, key)
	if previous != "" {
		for i, s := range strings.Split(previous, ",") {
			if strings.TrimSpace(s) == "" {
				continue // tolerate "a,,b" and a trailing comma
			}
			key, err := ParseKey(s)
			if err != nil {
				return nil, false, fmt.Errorf("secrets: %s entry %d: %w", EnvPreviousKeys, i+1, err)
			}
			keys = append(keys, key)
		}
	}
	k, err = NewKeyring(keys[0], keys[1:]...)
	if err != nil {
		return nil, false, err
	}
	return k, true, nil
}

// LoadOrCreateKeyFile returns the key in dir/secrets.key (base64), creating
// the file with a new random key, mode 0600, when it does not exist; dir is
// created with mode 0700 if missing. Creation is atomic: a concurrent caller
// sees either no file or the complete key, and both callers return the same
// key. It returns an error, never containing the key, when the directory or
// file cannot be read or written, when the file does not hold a valid key,
// or when an existing file's mode grants any access to group or others.
func LoadOrCreateKeyFile(dir string) ([]byte, error) {
	path := filepath.Join(dir, KeyFileName)
	key, err := readKeyFile(path)
	if !errors.Is(err, os.ErrNotExist) {
		return key, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("secrets: create key dir: %w", err)
	}
	key, err = createKeyFile(path)
	if errors.Is(err, os.ErrExist) {
		// Another process created it between our read and our link.
		return readKeyFile(path)
	}
	return key, err
}

// readKeyFile reads and parses the key file at path. It returns an error
// wrapping os.ErrNotExist when there is no file.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("secrets: open key file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("secrets: stat key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("secrets: key file %s is not a regular file", path)
	}
	// Windows has no group/other permission bits to check.
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("secrets: key file %s has mode %04o, which grants group or other access; chmod it to 0600", path, perm)
	}
	// A base64 key with a newline is 45 bytes; refuse to read a huge file.
	b, err := io.ReadAll(io.LimitReader(f, 1024))
	if err != nil {
		return nil, fmt.Errorf("secrets: read key file %s: %w", path, err)
	}
	defer clear(b)
	key, err := ParseKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("secrets: key file %s: %w", path, err)
	}
	return key, nil
}

// createKeyFile writes a new random key to a temporary file in the same
// directory and links it to path, so that path never holds a partial key. It
// returns an error wrapping os.ErrExist when path already exists.
// GenerateKey returns a new random 32-byte key. It never fails: crypto/rand
// panics instead of returning an error.
func GenerateKey() []byte {
	key := make([]byte, KeySize)
	rand.Read(key)
	return key
}

func createKeyFile(path string) ([]byte, error) {
	key := GenerateKey()
	text := []byte(base64.StdEncoding.EncodeToString(key) + "\n")
	defer clear(text)

	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".secrets.key.*") // mode 0600
	if err != nil {
		return nil, fmt.Errorf("secrets: create key file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil && runtime.GOOS != "windows" {
		tmp.Close()
		return nil, fmt.Errorf("secrets: create key file: %w", err)
	}
	_, err = tmp.Write(text)
	if err == nil {
		// Losing the key after values were sealed with it would lose them
		// too, so it must be on disk before anything uses it.
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("secrets: write key file: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, err
		}
		return nil, fmt.Errorf("secrets: create key file: %w", err)
	}
	syncDir(dir)
	return key, nil
}

// syncDir makes a new directory entry durable. It is best effort: some
// platforms cannot sync a directory, and the file itself is already synced.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
