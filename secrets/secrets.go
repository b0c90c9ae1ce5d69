// Package secrets holds credentials and their encryption.
//
// Every credential value is sealed with AES-256-GCM before it reaches a store,
// so a database dump alone reveals nothing. Each sealed row carries the id of
// the key that sealed it (KeyID, a truncated SHA-256 of the key, safe to
// store and log) next to a random 12-byte nonce and the ciphertext. The
// additional authenticated data binds the ciphertext to the row it belongs
// to — scope, owner and credential name — so a value copied into another
// org's, workspace's or name's row fails to open rather than leaking there.
// Keys rotate without downtime: a Keyring seals with the current key and opens
// with the current key or any previous one, and Reseal moves an old value to
// the current key (`secret rotate-key`); once no row names an old key id, the
// old key can be dropped from the configuration.
//
// The current key comes from MODELGATE_SECRETS_KEY (older ones from
// MODELGATE_SECRETS_PREVIOUS_KEYS); the embedded store may instead keep a
// generated key in a 0600 file in its data directory. Plaintext never appears
// in an error, and Keyring and Redactor print without their contents, so a
// stray %v cannot leak a key or a value. Redactor is the last line of defence
// for text that may have picked up a value (a driver's output, say).
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/modelgate/modelgate"
)

// KeySize is the AES-256 key length.
const KeySize = 32

// Scopes a sealed value can belong to; they are the credential scopes of the
// modelgate package that have stored secrets.
const (
	// ScopeOrg is an org secret; its owner is the org id.
	ScopeOrg = modelgate.ScopeOrg
	// ScopeWorkspace is a workspace secret; its owner is org + "/" + workspace id.
	ScopeWorkspace = modelgate.ScopeWorkspace
)

// aadVersion starts the additional data, so that a future change of its
// layout cannot be confused with this one.
const aadVersion = "modelgate.secrets.v1"

var (
	// errUnknownKey means a sealed value names a key the keyring does not hold:
	// it was sealed with a key that was dropped from the configuration.
	errUnknownKey = errors.New("unknown key id")
	// errAuth means GCM authentication failed: the wrong key, a value moved
	// to another row, or a tampered ciphertext. GCM cannot tell these apart.
	errAuth = errors.New("authentication failed (wrong key, value moved from another row, or tampered)")
	// ErrUnknownKey is wrapped by Open's error for a value sealed under a
	// key id the keyring does not hold.
	ErrUnknownKey = errUnknownKey
	// errNoKey means the keyring is the zero value.
	errNoKey = errors.New("keyring has no current key")
)

// Keyring seals with its current key and opens with the current key or any
// previous one. It is safe for concurrent use. It prints as its key ids only.
type Keyring struct {
	current string
	// previous are the ids of the older keys, in configuration order, for String.
	previous []string
	// aeads maps every key id to its GCM, which draws a random nonce per Seal
	// and reads it back on Open. The raw keys are not kept.
	aeads map[string]cipher.AEAD
}

// NewKeyring returns a keyring that seals with current and opens with current
// or any previous key. Keys are not retained: the caller may zero them after
// the call. It returns an error, naming the key's position but not its
// content, when a key is not KeySize bytes.
func NewKeyring(current []byte, previous ...[]byte) (*Keyring, error) {
	k := &Keyring{aeads: map[string]cipher.AEAD{}}
	id, err := k.add(current)
	if err != nil {
		return nil, fmt.Errorf("secrets: current key: %w", err)
	}
	k.current = id
	for i, key := range previous {
		id, err := k.add(key)
		if err != nil {
			return nil, fmt.Errorf("secrets: previous key %d: %w", i+1, err)
		}
		if id != k.current && !slices.Contains(k.previous, id) {
			k.previous = append(k.previous, id)
		}
	}
	return k, nil
}

// add builds the GCM for key and returns the key's id.
func (k *Keyring) add(key []byte) (string, error) {
	if len(key) != KeySize {
		return "", fmt.Errorf("key is %d bytes, want %d", len(key), KeySize)
	}
	id := KeyID(key)
	if _, ok := k.aeads[id]; ok {
		return id, nil
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", err
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return "", err
	}
	k.aeads[id] = aead
	return id, nil
}

// CurrentKeyID returns the id of the key Seal uses, or "" for the zero Keyring.
func (k *Keyring) CurrentKeyID() string {
	return k.current
}

// String returns the key ids of the keyring and nothing else, so that
// formatting a Keyring can never print a key.
func (k Keyring) String() string {
	return fmt.Sprintf("secrets.Keyring{current: %s, previous: [%s]}", k.current, strings.Join(k.previous, " "))
}

// GoString is String, so that %#v cannot print a key either.
func (k Keyring) GoString() string {
	return k.String()
}

// Seal encrypts value with AES-256-GCM under the current key. The additional
// data binds the ciphertext to scope (ScopeOrg or ScopeWorkspace), owner (the
// org id, or org + "/" + workspace id) and name, so a value copied to another
// row does not open. The ciphertext is a 12-byte random nonce followed by the
// GCM output. It returns an error, never containing value, when scope, owner
// or name is invalid or the keyring has no key.
func (k *Keyring) Seal(scope, owner, name string, value []byte) (modelgate.Sealed, error) {
	aad, err := additionalData(scope, owner, name)
	if err != nil {
		return modelgate.Sealed{}, fmt.Errorf("secrets: seal %s: %w", name, err)
	}
	aead := k.aeads[k.current]
	if aead == nil {
		return modelgate.Sealed{}, fmt.Errorf("secrets: seal %s: %w", name, errNoKey)
	}
	return modelgate.Sealed{KeyID: k.current, Ciphertext: aead.Seal(nil, nil, value, aad)}, nil
}

// Open decrypts a value sealed by Seal with the same scope, owner and name.
// The caller owns the returned plaintext and should zero it when done. It
// returns an error, never containing the value, when the arguments are
// invalid, the keyring does not hold the key named by s.KeyID, or
// authentication fails (wrong row, tampered ciphertext).
func (k *Keyring) Open(scope, owner, name string, s modelgate.Sealed) ([]byte, error) {
	aad, err := additionalData(scope, owner, name)
	if err != nil {
		return nil, fmt.Errorf("secrets: open %s: %w", name, err)
	}
	aead := k.aeads[s.KeyID]
	if aead == nil {
		return nil, fmt.Errorf("secrets: open %s %s/%s: %w %q", scope, owner, name, errUnknownKey, s.KeyID)
	}
	plain, err := aead.Open(nil, nil, s.Ciphertext, aad)
	if err != nil {
		// The GCM error says only "message authentication failed"; ours
		// says what that can mean.
		return nil, fmt.Errorf("secrets: open %s %s/%s with key %s: %w", scope, owner, name, s.KeyID, errAuth)
	}
	return plain, nil
}

// Reseal opens s and seals it again under the current key, with a fresh
// nonce; `secret rotate-key` uses it to move old rows to the current key. It
// returns the errors of Open and Seal; the plaintext is zeroed before it
// returns.
func (k *Keyring) Reseal(scope, owner, name string, s modelgate.Sealed) (modelgate.Sealed, error) {
	plain, err := k.Open(scope, owner, name, s)
	if err != nil {
		return modelgate.Sealed{}, err
	}
	defer clear(plain)
	return k.Seal(scope, owner, name, plain)
}

// additionalData returns the GCM additional data of a row: a version tag,
// then scope, owner and name, each prefixed with its length so that no two
// different rows produce the same bytes (org "a/b" + name "C" is not org "a"
// + name "b/C"). It returns an error when the arguments cannot name a row.
func additionalData(scope, owner, name string) ([]byte, error) {
	switch scope {
	case ScopeOrg:
		if owner == "" {
			return nil, errors.New("org secret needs an owner (the org id)")
		}
	case ScopeWorkspace:
		// Catches a caller passing just the org for a workspace secret,
		// which would otherwise surface as an authentication failure.
		org, ws, ok := strings.Cut(owner, "/")
		if !ok || org == "" || ws == "" {
			return nil, fmt.Errorf("workspace secret owner %q is not org/workspace-id", owner)
		}
	default:
		return nil, fmt.Errorf("scope %q is neither %q nor %q", scope, ScopeOrg, ScopeWorkspace)
	}
	if !ValidName(name) {
		return nil, errors.New("invalid credential name")
	}
	aad := make([]byte, 0, len(aadVersion)+3*4+len(scope)+len(owner)+len(name))
	aad = append(aad, aadVersion...)
	for _, field := range []string{scope, owner, name} {
		aad = binary.BigEndian.AppendUint32(aad, uint32(len(field)))
		aad = append(aad, field...)
	}
	return aad, nil
}

// Opened is one owner's stored secrets after OpenAll. It holds plaintext:
// keep it no longer than needed and never log it (it prints without values).
type Opened struct {
	// Values maps the name of every usable secret to its value, trimmed of
	// surrounding white space. A secret whose trimmed value is empty is not
	// usable (CONTRACT.md §2: a blank value never satisfies the gate).
	Values map[string]string
	// Undecryptable names the secrets that did not open with the keyring
	// (a key not configured, or a tampered row), sorted; each one's error,
	// which names the key id and never a value, is in Errors.
	Undecryptable []string
	// Errors holds the error of each name in Undecryptable.
	Errors map[string]error
}

// String describes o without its values.
func (o Opened) String() string {
	return fmt.Sprintf("secrets.Opened{%d usable, undecryptable %v}", len(o.Values), o.Undecryptable)
}

// Names returns the names of the usable secrets, sorted.
func (o Opened) Names() []string {
	names := make([]string, 0, len(o.Values))
	for n := range o.Values {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// OpenAll decrypts the sealed secrets of one owner (see Open for scope and
// owner). It is the one rule of which stored secrets count as credentials,
// shared by the gate's org lookup, discovery and the provisioner: a secret
// that opens to a non-blank value counts (trimmed); one that opens to a
// blank value does not; one that does not open is listed in Undecryptable.
// It never fails.
func (k *Keyring) OpenAll(scope, owner string, sealed []modelgate.SealedSecret) Opened {
	o := Opened{Values: make(map[string]string, len(sealed))}
	for _, s := range sealed {
		plain, err := k.Open(scope, owner, s.Name, s.Sealed)
		if err != nil {
			o.Undecryptable = append(o.Undecryptable, s.Name)
			if o.Errors == nil {
				o.Errors = map[string]error{}
			}
			o.Errors[s.Name] = err
			continue
		}
		if v := strings.TrimSpace(string(plain)); v != "" {
			o.Values[s.Name] = v
		}
		clear(plain)
	}
	slices.Sort(o.Undecryptable)
	return o
}

// KeyIDs returns the ids of every key the keyring opens with, sorted.
func (k *Keyring) KeyIDs() []string {
	ids := make([]string, 0, len(k.aeads))
	for id := range k.aeads {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}
