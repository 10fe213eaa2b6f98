// Package secretbox encrypts secrets at rest (provider API keys, TOTP
// secrets, webhook secrets) with AES-256-GCM under a keyring that supports
// rotation: new ciphertexts use the primary key, old ones stay readable as
// long as their key is in the ring, and NeedsRotation finds those to
// re-seal.
//
// A ciphertext is the text "v1:<key id>:<base64url(nonce || sealed)>". The
// caller's associated data (AAD), e.g. the org id and the column, binds a
// ciphertext to its row: moved to another row, it no longer opens.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Errors returned (wrapped) by Open. None of them carries key material.
var (
	// ErrMalformed: the text is not a ciphertext of this package.
	ErrMalformed = errors.New("secretbox: malformed ciphertext")
	// ErrUnknownKey: the ciphertext names a key id that is not in the ring.
	ErrUnknownKey = errors.New("secretbox: unknown key id")
	// ErrAuthentication: wrong key, wrong associated data or a tampered
	// ciphertext; GCM cannot tell which.
	ErrAuthentication = errors.New("secretbox: message authentication failed")
)

// KeySize is the length of every key: AES-256.
const KeySize = 32

const (
	version     = "v1"
	maxKeyIDLen = 32
	// devKeyID names the key of DevKeyring.
	devKeyID = "dev"
	// devKeyInfo is the HKDF info of DevKeyring: a fixed label, so the same
	// secret yields the same key across restarts.
	devKeyInfo = "superagent secretbox development key v1"
)

var b64 = base64.RawURLEncoding

// Keyring holds the keys of a secretbox: the primary seals, all open. It is
// safe for concurrent use and never prints its keys.
type Keyring struct {
	primary string
	ids     []string // in configuration order, primary first
	aeads   map[string]cipher.AEAD
}

// ParseKeyring reads a keyring configuration: comma-separated "id:key"
// entries where key is 32 bytes in standard or URL-safe base64 (padding
// optional), e.g. "k2:<base64>,k1:<base64>". The first entry is the primary.
// Ids are 1 to 32 letters, digits, '-' or '_'. Generate a key with
// `openssl rand -base64 32`. Errors name the entry and the problem, never
// the key.
func ParseKeyring(config string) (*Keyring, error) {
	if strings.TrimSpace(config) == "" {
		return nil, errors.New("parse keyring: no keys configured")
	}
	kr := &Keyring{aeads: map[string]cipher.AEAD{}}
	for i, entry := range strings.Split(config, ",") {
		id, encoded, ok := strings.Cut(strings.TrimSpace(entry), ":")
		if !ok {
			return nil, fmt.Errorf("parse keyring: entry %d: want id:base64-key", i+1)
		}
		if !validKeyID(id) {
			return nil, fmt.Errorf("parse keyring: entry %d: key id %q must be 1 to %d letters, digits, '-' or '_'", i+1, id, maxKeyIDLen)
		}
		if _, dup := kr.aeads[id]; dup {
			return nil, fmt.Errorf("parse keyring: entry %d: duplicate key id %q", i+1, id)
		}
		key, err := decodeKey(encoded)
		if err != nil {
			return nil, fmt.Errorf("parse keyring: key %q: not valid base64", id)
		}
		if len(key) != KeySize {
			return nil, fmt.Errorf("parse keyring: key %q: want %d bytes, got %d", id, KeySize, len(key))
		}
		if err := kr.add(id, key); err != nil {
			return nil, fmt.Errorf("parse keyring: key %q: %w", id, err)
		}
	}
	return kr, nil
}

// DevKeyring derives a single key (id "dev") from the application secret
// (SECRET_KEY) with HKDF-SHA256. It is for development only: anyone who knows
// the secret can read every sealed value, and the key cannot be rotated
// independently of it. Production must configure real random keys with
// ParseKeyring. secret must be at least 16 bytes.
func DevKeyring(secret []byte) (*Keyring, error) {
	if len(secret) < 16 {
		return nil, fmt.Errorf("development keyring: secret must be at least 16 bytes, got %d", len(secret))
	}
	key, err := hkdf.Key(sha256.New, secret, nil, devKeyInfo, KeySize)
	if err != nil {
		return nil, fmt.Errorf("development keyring: derive key: %w", err)
	}
	kr := &Keyring{aeads: map[string]cipher.AEAD{}}
	if err := kr.add(devKeyID, key); err != nil {
		return nil, fmt.Errorf("development keyring: %w", err)
	}
	return kr, nil
}

func (kr *Keyring) add(id string, key []byte) error {
	block, err := aes.NewCipher(key)
	if err != nil {
		return err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return err
	}
	if kr.primary == "" {
		kr.primary = id
	}
	kr.ids = append(kr.ids, id)
	kr.aeads[id] = aead
	return nil
}

// PrimaryID returns the id of the key that seals new ciphertexts.
func (kr *Keyring) PrimaryID() string { return kr.primary }

// KeyIDs returns the ids of all keys, primary first.
func (kr *Keyring) KeyIDs() []string { return append([]string(nil), kr.ids...) }

// String describes the keyring by key ids only.
func (kr *Keyring) String() string {
	return fmt.Sprintf("secretbox.Keyring{primary: %s, keys: %s}", kr.primary, strings.Join(kr.ids, ","))
}

// GoString is String, so %#v does not print keys either.
func (kr *Keyring) GoString() string { return kr.String() }

// Seal encrypts plaintext under the primary key with a fresh random nonce
// and binds it to aad, which Open must be given again. The result is text,
// safe for a TEXT column.
func (kr *Keyring) Seal(plaintext, aad []byte) (string, error) {
	aead := kr.aeads[kr.primary]
	if aead == nil {
		return "", errors.New("secretbox: seal: keyring has no keys")
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("secretbox: seal: nonce: %w", err)
	}
	header := version + ":" + kr.primary + ":"
	sealed := aead.Seal(nonce, nonce, plaintext, additionalData(header, aad))
	return header + b64.EncodeToString(sealed), nil
}

// Open decrypts a ciphertext made by Seal with the same aad. It returns an
// error wrapping ErrMalformed, ErrUnknownKey or ErrAuthentication.
func (kr *Keyring) Open(ciphertext string, aad []byte) ([]byte, error) {
	id, body, err := parse(ciphertext)
	if err != nil {
		return nil, fmt.Errorf("secretbox: open: %w", err)
	}
	aead := kr.aeads[id]
	if aead == nil {
		return nil, fmt.Errorf("secretbox: open: %w %q", ErrUnknownKey, id)
	}
	raw, err := b64.Strict().DecodeString(body)
	if err != nil || len(raw) < aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("secretbox: open: %w", ErrMalformed)
	}
	nonce, sealed := raw[:aead.NonceSize()], raw[aead.NonceSize():]
	plaintext, err := aead.Open(nil, nonce, sealed, additionalData(version+":"+id+":", aad))
	if err != nil {
		return nil, fmt.Errorf("secretbox: open: key %q: %w", id, ErrAuthentication)
	}
	return plaintext, nil
}

// NeedsRotation reports whether a well-formed ciphertext was sealed under a
// key other than the primary: open it and seal it again to rotate. It is
// false for malformed text.
func (kr *Keyring) NeedsRotation(ciphertext string) bool {
	id, _, err := parse(ciphertext)
	return err == nil && id != kr.primary
}

// parse splits "v1:<id>:<body>".
func parse(ciphertext string) (id, body string, err error) {
	v, rest, ok := strings.Cut(ciphertext, ":")
	if !ok || v != version {
		return "", "", ErrMalformed
	}
	id, body, ok = strings.Cut(rest, ":")
	if !ok || !validKeyID(id) || body == "" {
		return "", "", ErrMalformed
	}
	return id, body, nil
}

// additionalData authenticates the header (version and key id) together with
// the caller's aad. The header ends with ':' and ids contain none, so the
// split between the two is unambiguous.
func additionalData(header string, aad []byte) []byte {
	return append([]byte(header), aad...)
}

func validKeyID(id string) bool {
	if len(id) == 0 || len(id) > maxKeyIDLen {
		return false
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// decodeKey accepts standard or URL-safe base64, padded or not.
func decodeKey(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}
