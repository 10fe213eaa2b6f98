package auth

import (
	"sync"
	"time"
)

// verifiedTokens remembers the claims of access tokens whose signature and
// claims checked out, so a client presenting the same token again skips
// the HMAC and the claims' decoding. It holds only what ParseAccess would
// return again for the same string (the key and settings are fixed for the
// process's life); expiry is checked on every use, and everything that can
// end a token early (logout, revoked session, deactivated user or
// organization) is read from the database on every request as before.
type verifiedTokens struct {
	mu      sync.RWMutex
	entries map[string]AccessClaims
	max     int
}

// maxVerifiedTokens bounds the cache: about 600 bytes a token.
const maxVerifiedTokens = 2048

func newVerifiedTokens(max int) *verifiedTokens {
	return &verifiedTokens{entries: map[string]AccessClaims{}, max: max}
}

// get returns the claims of a token verified before and valid at now.
func (v *verifiedTokens) get(token string, now time.Time) (AccessClaims, bool) {
	v.mu.RLock()
	c, ok := v.entries[token]
	v.mu.RUnlock()
	if !ok {
		return AccessClaims{}, false
	}
	if !now.Before(c.ExpiresAt.Add(ClockLeeway)) || now.Before(c.NotBefore.Add(-ClockLeeway)) {
		v.mu.Lock()
		delete(v.entries, token)
		v.mu.Unlock()
		return AccessClaims{}, false // ParseAccess says why
	}
	return c, true
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
	v.entries[token] = c
}
