package auth

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// TOTP settings (RFC 6238): what every authenticator app supports.
const (
	totpPeriod     = 30 // seconds per step
	totpDigits     = otp.DigitsSix
	totpAlgorithm  = otp.AlgorithmSHA1
	totpSecretSize = 20 // bytes: 160 bits, the HMAC-SHA1 block recommendation of RFC 4226
	totpSkew       = 1  // steps accepted either side of the current one
	totpQRSize     = 256
)

// NewTOTP creates a TOTP secret for account (usually the user's e-mail) at
// issuer (the product name shown in the authenticator app). It returns the
// base32 secret to store (encrypted), the otpauth:// URI and the same URI as
// a 256×256 PNG QR code for enrolment.
func NewTOTP(issuer, account string) (secret, otpauthURI string, qrPNG []byte, err error) {
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      issuer,
		AccountName: account,
		Period:      totpPeriod,
		SecretSize:  totpSecretSize,
		Digits:      totpDigits,
		Algorithm:   totpAlgorithm,
	})
	if err != nil {
		return "", "", nil, fmt.Errorf("new TOTP key: %w", err)
	}
	img, err := key.Image(totpQRSize, totpQRSize)
	if err != nil {
		return "", "", nil, fmt.Errorf("new TOTP key: QR code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return "", "", nil, fmt.Errorf("new TOTP key: encode QR code: %w", err)
	}
	return key.Secret(), key.URL(), buf.Bytes(), nil
}

// VerifyTOTP checks a 6-digit code against secret at time now, accepting
// the current 30-second step and one step either side for clock drift.
// A step at or before lastUsedStep is refused, so each code works once:
// on success the caller must store the returned step as the new
// lastUsedStep (0 when none was used yet). Spaces in code are ignored. A
// malformed code or secret is simply not ok.
func VerifyTOTP(secret, code string, now time.Time, lastUsedStep int64) (step int64, ok bool) {
	code = strings.ReplaceAll(code, " ", "")
	if len(code) != totpDigits.Length() || strings.Trim(code, "0123456789") != "" {
		return 0, false
	}
	if now.Unix() < 0 {
		return 0, false
	}
	current := now.Unix() / totpPeriod
	// Check every candidate, so the time taken does not depend on which one
	// matches, and keep the latest matching step: replaying the code later
	// can then never match a newer one.
	for s := current - totpSkew; s <= current+totpSkew; s++ {
		if s < 0 || s <= lastUsedStep {
			continue
		}
		want, err := hotp.GenerateCodeCustom(secret, uint64(s), hotp.ValidateOpts{Digits: totpDigits, Algorithm: totpAlgorithm})
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			step, ok = s, true
		}
	}
	return step, ok
}

// recoveryAlphabet is Crockford's base32 in lower case: no i, l, o or u, so
// a code read aloud or copied by hand survives.
const recoveryAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// NewRecoveryCodes returns n distinct one-time recovery codes, formatted
// "xxxxx-xxxxx" (10 symbols of Crockford base32, 50 random bits), and their
// hashes (HashRecoveryCode) in the same order. Show plain once; store hashes.
func NewRecoveryCodes(n int) (plain, hashes []string) {
	seen := make(map[string]bool, max(n, 0))
	for len(plain) < n {
		raw := randomBytes(10)
		var b strings.Builder
		for i, r := range raw {
			if i == 5 {
				b.WriteByte('-')
			}
			b.WriteByte(recoveryAlphabet[r&31]) // 256 is a multiple of 32: uniform
		}
		code := b.String()
		if seen[code] {
			continue
		}
		seen[code] = true
		plain = append(plain, code)
		hashes = append(hashes, HashRecoveryCode(code))
	}
	return plain, hashes
}

// HashRecoveryCode returns the hash under which a recovery code is stored:
// hex SHA-256 of the code normalized to lower case without dashes or
// whitespace, with the Crockford look-alikes o→0 and i, l→1. So
// "ABCDE-12345", "abcde12345" and " abcde 12345 " hash alike.
func HashRecoveryCode(code string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(code) {
		switch r {
		case '-', ' ', '\t', '\n', '\r':
			continue
		case 'o':
			r = '0'
		case 'i', 'l':
			r = '1'
		}
		b.WriteRune(r)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}
