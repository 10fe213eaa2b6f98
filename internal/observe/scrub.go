package observe

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// Error messages are built by our code and libraries, not from request
// bodies, but a wrapped error can still quote a value: an e-mail address in
// "user x@y: conflict", a connection string in a driver error. Scrub
// replaces whatever looks like a secret or personal data before a message
// leaves the process.
var scrubbers = []struct {
	re   *regexp.Regexp
	with string
}{
	// Credentials inside URLs: scheme://user:password@host.
	{regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@`), "${1}[redacted]@"},
	// Authorization values, whatever their scheme.
	{regexp.MustCompile(`(?i)\b(authorization)(\s*[=:]\s*)(?:(?:bearer|basic|token)\s+)?[^\s&,;]+`), "${1}${2}[redacted]"},
	// password=… and similar key/value pairs (connection strings, query strings).
	{regexp.MustCompile(`(?i)\b(password|passwd|pwd|secret|token|api[_-]?key)(\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s&,;]+)`), "${1}${2}[redacted]"},
	// Bearer credentials elsewhere.
	{regexp.MustCompile(`(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+`), "Bearer [redacted]"},
	// JSON Web Tokens.
	{regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*`), "[token]"},
	// Our opaque tokens: API keys, refresh tokens, one-time links (sak_…, sar_…).
	{regexp.MustCompile(`\bsa[a-z]_[A-Za-z0-9_-]{20,}`), "[token]"},
	// E-mail addresses.
	{regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`), "[email]"},
}

// maxMessageBytes bounds a reported message.
const maxMessageBytes = 2048

// Scrub removes credentials, tokens and e-mail addresses from s and bounds
// its length.
func Scrub(s string) string {
	for _, sc := range scrubbers {
		s = sc.re.ReplaceAllString(s, sc.with)
	}
	if len(s) > maxMessageBytes {
		cut := maxMessageBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// prefixedID matches our opaque ids (wf_…, exe_…), so messages that differ
// only in the object they name group together.
var prefixedID = regexp.MustCompile(`\b[a-z]{2,5}_[A-Za-z0-9]{8,}\b`)

// groupingKey is a message with ids and numbers taken out.
func groupingKey(msg string) string {
	msg = prefixedID.ReplaceAllString(msg, "<id>")
	return digits.ReplaceAllString(msg, "<n>")
}

var digits = regexp.MustCompile(`\d+`)
