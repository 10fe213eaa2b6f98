package auth

import (
	"sync"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
)

// verifiedTokens remembers the claims of access tokens whose signature and
// claims checked out, so a client presenting the same token again skips
// the HMAC and the claims' decoding. It holds what ParseAccess would return
// again for the same string (the key and settings are fixed for the
// process's life), checking expiry on every use, and the principal the
// token's last request confirmed. That principal is only ever a guess:
// everything that can end a token early or change what it may do (logout,
// revoked session, deactivated user or organization, role change) is read
// from the database during every request (AuthenticateRead).
type verifiedTokens struct {
	mu      sync.RWMutex
	entries map[string]tokenEntry
	max     int
}

type tokenEntry struct {
	claims AccessClaims
	// principal is what the token's last request confirmed, when it was
	// unrestricted (no e-mail or MFA requirement pending); lastUsed is its
	// session's last recorded use then.
	principal *domain.Principal
	lastUsed  time.Time
}

// maxVerifiedTokens bounds the cache: about 1 KiB a token with its principal.
const maxVerifiedTokens = 2048

func newVerifiedTokens(max int) *verifiedTokens {
	return &verifiedTokens{entries: map[string]tokenEntry{}, max: max}
}

// get returns what is remembered of a token verified before and valid at now.
func (v *verifiedTokens) get(token string, now time.Time) (tokenEntry, bool) {
	v.mu.RLock()
	e, ok := v.entries[token]
	v.mu.RUnlock()
	if !ok {
		return tokenEntry{}, false
	}
	if c := e.claims; !now.Before(c.ExpiresAt.Add(ClockLeeway)) || now.Before(c.NotBefore.Add(-ClockLeeway)) {
		v.mu.Lock()
		delete(v.entries, token)
		v.mu.Unlock()
		return tokenEntry{}, false // ParseAccess says why
	}
	return e, true
}

// remember records the principal a request of a cached token confirmed
// (nil forgets it).
func (v *verifiedTokens) remember(token string, p *domain.Principal, lastUsed time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if e, ok := v.entries[token]; ok {
		e.principal, e.lastUsed = p, lastUsed
		v.entries[token] = e
	}
}

// put remembers a verified token, evicting an arbitrary one when full.
func (v *verifiedTokens) put(token string, c AccessClaims) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.entries) >= v.max {
		for k := range v.entries {
			delete(v.entries, k)
			break
		}
	}
	v.entries[token] = tokenEntry{claims: c}
}
