package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// Opaque token kinds. The kind is the visible start of the token, so a token
// of the wrong kind is refused before any lookup, and leaked tokens are easy
// to recognise (secret scanners, logs).
const (
	PrefixRefreshToken  = "sar" // refresh token (one per rotation in a session family)
	PrefixAPIKey        = "sak" // API key
	PrefixVerification  = "sav" // e-mail verification link
	PrefixPasswordReset = "sap" // password reset link
	PrefixInvitation    = "sai" // organization invitation
	PrefixMFAChallenge  = "sam" // pending second factor after a correct password
)

// opaqueSecretLen is the random part of an opaque token, in bytes (256 bits).
const opaqueSecretLen = 32

// opaqueBodyLen is the length of its unpadded base64url encoding.
var opaqueBodyLen = base64.RawURLEncoding.EncodedLen(opaqueSecretLen)

// NewOpaqueToken returns a new random token "<prefix>_<43 base64url
// characters>" (256 random bits) and the hash to store instead of it. Only
// the hash is ever stored; the plaintext is shown to its owner once. prefix
// must be 1 to 8 lower-case ASCII letters or digits, normally one of the
// Prefix* constants; NewOpaqueToken panics otherwise, as that is a bug.
func NewOpaqueToken(prefix string) (plaintext, hash string) {
	if !validTokenPrefix(prefix) {
		panic("auth: invalid opaque token prefix " + prefix)
	}
	plaintext = prefix + "_" + base64.RawURLEncoding.EncodeToString(randomBytes(opaqueSecretLen))
	return plaintext, HashToken(plaintext)
}

// HashToken returns the lookup hash of an opaque token: hex SHA-256 of the
// whole plaintext. A fast hash is enough for 256-bit random secrets, and it
// lets the store find a token by an indexed equality on its hash.
func HashToken(plaintext string) string {
	sum := sha256.Sum256([]byte(plaintext))
	return hex.EncodeToString(sum[:])
}

// TokenPrefix returns the kind of a well-formed opaque token (e.g. "sak"),
// or "" when plaintext does not have the shape NewOpaqueToken produces.
// Callers compare it with the kind they expect before looking anything up.
func TokenPrefix(plaintext string) string {
	prefix, body, ok := strings.Cut(plaintext, "_")
	if !ok || !validTokenPrefix(prefix) || len(body) != opaqueBodyLen {
		return ""
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(body); err != nil {
		return ""
	}
	return prefix
}

// TokenMatches reports, in constant time, whether plaintext hashes to
// storedHash.
func TokenMatches(plaintext, storedHash string) bool {
	return subtle.ConstantTimeCompare([]byte(HashToken(plaintext)), []byte(storedHash)) == 1
}

func validTokenPrefix(p string) bool {
	if len(p) == 0 || len(p) > 8 {
		return false
	}
	for _, c := range []byte(p) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
