package auth

import (
	"regexp"
	"strings"
	"testing"
)

func TestNewOpaqueToken(t *testing.T) {
	t.Parallel()
	shape := regexp.MustCompile(`^[a-z0-9]+_[A-Za-z0-9_-]{43}$`)
	seen := map[string]bool{}
	for _, prefix := range []string{PrefixRefreshToken, PrefixAPIKey, PrefixVerification, PrefixPasswordReset, PrefixInvitation, PrefixMFAChallenge} {
		for range 50 {
			plain, hash := NewOpaqueToken(prefix)
			if !shape.MatchString(plain) || !strings.HasPrefix(plain, prefix+"_") {
				t.Fatalf("NewOpaqueToken(%q) = %q: wrong shape", prefix, plain)
			}
			if seen[plain] {
				t.Fatalf("token %q generated twice", plain)
			}
			seen[plain] = true
			if hash != HashToken(plain) || len(hash) != 64 {
				t.Fatalf("hash %q is not HashToken(plaintext)", hash)
			}
			if strings.Contains(hash, plain[len(prefix)+1:]) {
				t.Fatal("hash contains the secret")
			}
			if got := TokenPrefix(plain); got != prefix {
				t.Fatalf("TokenPrefix(%q) = %q, want %q", plain, got, prefix)
			}
			if !TokenMatches(plain, hash) {
				t.Fatal("TokenMatches(plaintext, its hash) = false")
			}
		}
	}
}

func TestHashTokenKnownValue(t *testing.T) {
	t.Parallel()
	// printf %s sak_test | sha256sum
	const want = "8403087b455abe6aa50ac4467ced977663b047ca849ef4611b882e140bcbd704"
	if got := HashToken("sak_test"); got != want {
		t.Fatalf("HashToken = %s, want %s", got, want)
	}
}

func TestTokenPrefixRefusesMalformed(t *testing.T) {
	t.Parallel()
	good, _ := NewOpaqueToken(PrefixAPIKey)
	body := good[len("sak_"):]
	tests := map[string]string{
		"empty":             "",
		"no separator":      "sak" + body,
		"empty prefix":      "_" + body,
		"upper-case prefix": "SAK_" + body,
		"long prefix":       "abcdefghi_" + body,
		"short body":        "sak_" + body[1:],
		"long body":         "sak_" + body + "A",
		"padded body":       "sak_" + body[:42] + "=",
		"not base64url":     "sak_" + body[:42] + "+",
		"a JWT":             "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln",
		"whitespace":        " " + good,
	}
	for name, s := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if p := TokenPrefix(s); p != "" {
				t.Errorf("TokenPrefix(%q) = %q, want \"\"", s, p)
			}
		})
	}
}

func TestTokenMatchesRefusesOthers(t *testing.T) {
	t.Parallel()
	a, hashA := NewOpaqueToken(PrefixRefreshToken)
	b, _ := NewOpaqueToken(PrefixRefreshToken)
	if TokenMatches(b, hashA) || TokenMatches(a, "") || TokenMatches(a, strings.ToUpper(hashA)) {
		t.Fatal("TokenMatches accepted a token against another hash")
	}
}

func TestNewOpaqueTokenPanicsOnBadPrefix(t *testing.T) {
	t.Parallel()
	for _, p := range []string{"", "sa_k", "SAK", "waytoolong"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewOpaqueToken(%q) did not panic", p)
				}
			}()
			NewOpaqueToken(p)
		}()
	}
}
