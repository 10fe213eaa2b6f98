package auth

import (
	"errors"
	"strings"
	"testing"

	"github.com/superagent-hq/superagent/internal/domain"
)

func TestCheckPassword(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, password, email, username string
		want                            error
	}{
		{"ordinary", "violet-kettle-9", "ada@example.com", "ada", nil},
		{"exactly 8 characters", "zq7vkm3p", "", "", nil},
		{"7 characters", "zq7vkm3", "", "", ErrPasswordTooShort},
		{"empty", "", "", "", ErrPasswordTooShort},
		{"8 code points, more bytes", "ünïcødé€", "", "", nil},
		{"7 code points, 14 bytes", "ééééééé", "", "", ErrPasswordTooShort},
		{"long passphrase", "the quick brown fox jumps over the lazy dog and keeps on running far away", "", "", nil},
		{"256 bytes", strings.Repeat("ab", 128), "", "", nil},
		{"257 bytes", strings.Repeat("a", 200) + strings.Repeat("b", 57), "", "", ErrPasswordTooLong},
		{"most common", "password", "", "", ErrPasswordCommon},
		{"common, other case", "PassWord", "", "", ErrPasswordCommon},
		{"common 8 digits", "12345678", "", "", ErrPasswordCommon},
		{"common name dropped by zxcvbn's own dictionary", "jennifer", "", "", ErrPasswordCommon},
		{"10,000th most common", "159753456", "", "", ErrPasswordCommon},
		{"10,001st most common is allowed", "timothy1", "", "", nil},
		{"equals email", "Ada.Lovelace@example.com", "ada.lovelace@example.com", "", ErrPasswordPersonal},
		{"equals email local part", "ADA.LOVELACE", "ada.lovelace@example.com", "", ErrPasswordPersonal},
		{"equals username", "lovelace1815", "a@example.com", "Lovelace1815", ErrPasswordPersonal},
		{"contains username is fine", "lovelace1815-analytical", "a@example.com", "lovelace1815", nil},
		{"no email or username", "violet-kettle-9", "", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := CheckPassword(tt.password, tt.email, tt.username)
			if !errors.Is(err, tt.want) {
				t.Fatalf("CheckPassword(%q) = %v, want %v", tt.password, err, tt.want)
			}
			if err != nil && domain.ErrCodeOf(err) != domain.ECodeInvalid {
				t.Errorf("error code = %s, want %s", domain.ErrCodeOf(err), domain.ECodeInvalid)
			}
		})
	}
}

func TestCommonPasswordList(t *testing.T) {
	t.Parallel()
	lines := strings.Split(strings.TrimSuffix(commonPasswordsText, "\n"), "\n")
	if len(lines) != 10000 {
		t.Fatalf("embedded list has %d lines, want 10000", len(lines))
	}
	if lines[0] != "123456" || lines[1] != "password" {
		t.Errorf("list does not start with the most common passwords: %q", lines[:2])
	}
	if n := len(commonPasswords()); n != 10000 {
		t.Errorf("%d distinct passwords, want 10000", n)
	}
	for _, w := range lines {
		if w != strings.ToLower(w) || strings.TrimSpace(w) != w || w == "" {
			t.Fatalf("entry %q is not a lower-case, trimmed, non-empty word", w)
		}
	}
}
