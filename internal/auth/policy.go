package auth

import (
	_ "embed"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/superagent-hq/superagent/internal/domain"
)

//go:generate go run ./internal/gencommon -o common_passwords.txt

// commonPasswordsText is the 10,000 most common passwords, lower-cased, one
// per line; common_passwords.md says where they come from.
//
//go:embed common_passwords.txt
var commonPasswordsText string

// MinPasswordChars is the shortest password accepted, in Unicode code points.
const MinPasswordChars = 8

// Password policy violations. Their Message is meant for the user; callers
// must not modify them.
var (
	ErrPasswordTooShort = domain.Errorf(domain.ECodeInvalid, "password must be at least %d characters long", MinPasswordChars)
	ErrPasswordTooLong  = domain.Errorf(domain.ECodeInvalid, "password must be at most %d bytes long; long passphrases are welcome up to that size", MaxPasswordBytes)
	ErrPasswordCommon   = domain.Errorf(domain.ECodeInvalid, "this password is one of the most commonly used passwords; choose another")
	ErrPasswordPersonal = domain.Errorf(domain.ECodeInvalid, "password must not be your email address or username")
)

// CheckPassword applies the password policy (NIST SP 800-63B style: length
// and a blocklist, no composition rules) to a new password. It returns nil or
// one of the ErrPassword* errors:
//   - at least MinPasswordChars code points, at most MaxPasswordBytes bytes
//     (longer input is refused, not truncated);
//   - not one of the 10,000 most common passwords, ignoring case;
//   - not equal, ignoring case, to the email, the email's local part or the
//     username (empty ones are skipped).
//
// The password is checked as given: no trimming, no normalization.
func CheckPassword(password, email, username string) error {
	if len(password) > MaxPasswordBytes {
		return ErrPasswordTooLong
	}
	if utf8.RuneCountInString(password) < MinPasswordChars {
		return ErrPasswordTooShort
	}
	if isCommonPassword(password) {
		return ErrPasswordCommon
	}
	personal := []string{email, username}
	if at := strings.LastIndexByte(email, '@'); at >= 0 {
		personal = append(personal, email[:at])
	}
	for _, s := range personal {
		if s != "" && strings.EqualFold(password, s) {
			return ErrPasswordPersonal
		}
	}
	return nil
}

// commonPasswords is built on first use, so that merely importing the
// package costs nothing.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, 10000)
	for line := range strings.Lines(commonPasswordsText) {
		if w := strings.TrimSpace(line); w != "" {
			set[w] = struct{}{}
		}
	}
	return set
})

func isCommonPassword(password string) bool {
	_, ok := commonPasswords()[strings.ToLower(password)]
	return ok
}
