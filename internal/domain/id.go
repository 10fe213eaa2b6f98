package domain

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
)

// ID prefixes: every identifier says what it names.
const (
	PrefixOrg        = "org"
	PrefixTeam       = "team"
	PrefixUser       = "usr"
	PrefixWorkflow   = "wf"
	PrefixVersion    = "wfv"
	PrefixAgent      = "agt"
	PrefixExecution  = "exe"
	PrefixStep       = "stp"
	PrefixSchedule   = "sch"
	PrefixAudit      = "aud"
	PrefixSession    = "ses"
	PrefixRefresh    = "rft"
	PrefixAPIKey     = "key"
	PrefixToken      = "tok"
	PrefixCredential = "prv"
	PrefixEvent      = "evt"
	PrefixRecovery   = "rec"
)

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewID returns an opaque, unguessable identifier: the prefix, an underscore
// and 128 random bits in lower-case base32 (26 characters).
func NewID(prefix string) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error()) // crypto/rand never fails on supported platforms
	}
	return prefix + "_" + idEncoding.EncodeToString(b[:])
}

// ValidID reports whether s looks like an identifier with the given prefix.
// It bounds what reaches the database from paths and bodies.
func ValidID(prefix, s string) bool {
	rest, ok := strings.CutPrefix(s, prefix+"_")
	if !ok || len(rest) == 0 || len(rest) > 40 {
		return false
	}
	for _, c := range rest {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
