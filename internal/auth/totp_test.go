package auth

import (
	"bytes"
	"encoding/base32"
	"image/png"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

func TestNewTOTP(t *testing.T) {
	t.Parallel()
	secret, uri, qr, err := NewTOTP("Super Agent", "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil || len(raw) != 20 {
		t.Errorf("secret %q: want 20 bytes of base32, got %d bytes, %v", secret, len(raw), err)
	}
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/Super Agent:ada@example.com" ||
		q.Get("secret") != secret || q.Get("issuer") != "Super Agent" ||
		q.Get("period") != "30" || q.Get("digits") != "6" || q.Get("algorithm") != "SHA1" {
		t.Errorf("otpauth URI = %q: want totp, issuer, account, secret, period 30, 6 digits, SHA1", uri)
	}
	img, err := png.Decode(bytes.NewReader(qr))
	if err != nil {
		t.Fatalf("QR code is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 256 || b.Dy() != 256 {
		t.Errorf("QR code is %v, want 256×256", b)
	}
	// The enrolled secret works with a standard TOTP implementation.
	now := time.Now()
	code, err := totp.GenerateCode(secret, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := VerifyTOTP(secret, code, now, 0); !ok {
		t.Error("code from the new secret was refused")
	}
	secret2, _, _, _ := NewTOTP("Super Agent", "ada@example.com")
	if secret2 == secret {
		t.Error("two enrolments got the same secret")
	}
}

func TestNewTOTPRequiresIssuerAndAccount(t *testing.T) {
	t.Parallel()
	if _, _, _, err := NewTOTP("", "ada@example.com"); err == nil {
		t.Error("NewTOTP without issuer succeeded")
	}
	if _, _, _, err := NewTOTP("Super Agent", ""); err == nil {
		t.Error("NewTOTP without account succeeded")
	}
}

func TestVerifyTOTPRFC6238Vector(t *testing.T) {
	t.Parallel()
	// RFC 6238 appendix B, SHA1 seed "12345678901234567890"; our codes are the
	// last 6 of its 8 digits.
	secret := base32.StdEncoding.EncodeToString([]byte("12345678901234567890"))
	for _, v := range []struct {
		unix int64
		code string
	}{{59, "287082"}, {1111111109, "081804"}, {1234567890, "005924"}, {2000000000, "279037"}} {
		step, ok := VerifyTOTP(secret, v.code, time.Unix(v.unix, 0), 0)
		if !ok || step != v.unix/30 {
			t.Errorf("VerifyTOTP(%s at %d) = %d, %v; want %d, true", v.code, v.unix, step, ok, v.unix/30)
		}
	}
}

func TestVerifyTOTP(t *testing.T) {
	t.Parallel()
	secret, _, _, err := NewTOTP("Super Agent", "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 5, 1, 12, 0, 10, 0, time.UTC)
	step := now.Unix() / 30
	codeAt := func(offset int64) string {
		c, err := totp.GenerateCodeCustom(secret, time.Unix((step+offset)*30, 0),
			totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cur := codeAt(0)
	wrong := "000000"
	if wrong == cur {
		wrong = "111111"
	}
	tests := []struct {
		name     string
		secret   string
		code     string
		lastUsed int64
		wantOK   bool
		wantStep int64
	}{
		{"current step", secret, cur, 0, true, step},
		{"previous step (clock drift)", secret, codeAt(-1), 0, true, step - 1},
		{"next step (clock drift)", secret, codeAt(1), 0, true, step + 1},
		{"two steps old", secret, codeAt(-2), 0, false, 0},
		{"two steps ahead", secret, codeAt(2), 0, false, 0},
		{"wrong code", secret, wrong, 0, false, 0},
		{"replayed: step already used", secret, cur, step, false, 0},
		{"older than last used step", secret, codeAt(-1), step, false, 0},
		{"after an older step was used", secret, cur, step - 1, true, step},
		{"spaces ignored", secret, cur[:3] + " " + cur[3:], 0, true, step},
		{"five digits", secret, cur[:5], 0, false, 0},
		{"seven digits", secret, cur + "0", 0, false, 0},
		{"letters", secret, "12a456", 0, false, 0},
		{"empty", secret, "", 0, false, 0},
		{"invalid secret", "not base32!", cur, 0, false, 0},
		{"other secret", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", cur, 0, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := VerifyTOTP(tt.secret, tt.code, now, tt.lastUsed)
			if ok != tt.wantOK || got != tt.wantStep {
				t.Errorf("VerifyTOTP(%q, lastUsed %d) = %d, %v; want %d, %v", tt.code, tt.lastUsed, got, ok, tt.wantStep, tt.wantOK)
			}
		})
	}
}

func TestVerifyTOTPCodeWorksOnce(t *testing.T) {
	t.Parallel()
	secret, _, _, err := NewTOTP("Super Agent", "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	code, _ := totp.GenerateCode(secret, now)
	step, ok := VerifyTOTP(secret, code, now, 0)
	if !ok {
		t.Fatal("first use refused")
	}
	// Same code, within the skew window, after storing the step.
	if _, ok := VerifyTOTP(secret, code, now.Add(30*time.Second), step); ok {
		t.Fatal("code accepted twice")
	}
}

func TestNewRecoveryCodes(t *testing.T) {
	t.Parallel()
	plain, hashes := NewRecoveryCodes(10)
	if len(plain) != 10 || len(hashes) != 10 {
		t.Fatalf("got %d codes and %d hashes, want 10 and 10", len(plain), len(hashes))
	}
	shape := regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}$`)
	seen := map[string]bool{}
	for i, c := range plain {
		if !shape.MatchString(c) {
			t.Errorf("code %q does not look like abcde-12345 in Crockford base32", c)
		}
		if seen[c] {
			t.Errorf("code %q repeated", c)
		}
		seen[c] = true
		if hashes[i] != HashRecoveryCode(c) {
			t.Errorf("hash %d does not match its code", i)
		}
		if strings.Contains(hashes[i], strings.ReplaceAll(c, "-", "")) {
			t.Errorf("hash %d contains its code", i)
		}
	}
	if p, h := NewRecoveryCodes(0); len(p) != 0 || len(h) != 0 {
		t.Errorf("NewRecoveryCodes(0) = %v, %v; want none", p, h)
	}
}

func TestHashRecoveryCodeNormalizes(t *testing.T) {
	t.Parallel()
	want := HashRecoveryCode("ab0de-12345")
	for _, variant := range []string{"AB0DE-12345", "ab0de12345", " ab0de 12345 ", "ab0de-1234-5", "abOde-12345", "ab0de-I2345", "ab0de-L2345"} {
		if got := HashRecoveryCode(variant); got != want {
			t.Errorf("HashRecoveryCode(%q) differs from HashRecoveryCode(%q)", variant, "ab0de-12345")
		}
	}
	for _, other := range []string{"ab0de-12346", "ab0de-1234", "bb0de-12345", ""} {
		if HashRecoveryCode(other) == want {
			t.Errorf("HashRecoveryCode(%q) equals the hash of another code", other)
		}
	}
}
