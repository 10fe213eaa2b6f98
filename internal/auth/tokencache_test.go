package auth

import (
	"fmt"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
)

func TestVerifiedTokens(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	v := newVerifiedTokens(3)
	c := AccessClaims{UserID: "u", NotBefore: now, ExpiresAt: now.Add(time.Minute)}
	v.put("tok", c)
	if got, ok := v.get("tok", now.Add(30*time.Second)); !ok || got.claims.UserID != "u" || got.principal != nil {
		t.Fatalf("a fresh token: %v %v", got, ok)
	}
	if _, ok := v.get("other", now); ok {
		t.Error("an unknown token was found")
	}
	// A confirmed principal is remembered with its token, and only while
	// the token is.
	v.remember("tok", &domain.Principal{UserID: "u"}, now)
	v.remember("other", &domain.Principal{UserID: "x"}, now)
	if got, _ := v.get("tok", now); got.principal == nil || got.principal.UserID != "u" || !got.lastUsed.Equal(now) {
		t.Errorf("remembered principal: %+v", got)
	}
	if _, ok := v.get("other", now); ok {
		t.Error("remembering created an entry for an unverified token")
	}
	// Past expiry (and its leeway) the cache forgets the token, so
	// ParseAccess runs and says it expired.
	if _, ok := v.get("tok", now.Add(time.Minute+ClockLeeway)); ok {
		t.Error("an expired token was served from the cache")
	}
	if _, ok := v.get("tok", now); ok {
		t.Error("an expired token stayed in the cache")
	}
	v.put("early", AccessClaims{NotBefore: now, ExpiresAt: now.Add(time.Hour)})
	if _, ok := v.get("early", now.Add(-ClockLeeway-time.Second)); ok {
		t.Error("a token was served before its nbf")
	}
	// Bounded: never more than max entries.
	for i := range 10 {
		v.put(fmt.Sprint("t", i), AccessClaims{NotBefore: now, ExpiresAt: now.Add(time.Hour)})
		if n := len(v.entries); n > 3 {
			t.Fatalf("%d entries, bound 3", n)
		}
	}
	if _, ok := v.get("t9", now); !ok {
		t.Error("the newest token was evicted")
	}
}
