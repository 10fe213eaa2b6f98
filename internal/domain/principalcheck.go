package domain

import (
	"context"
	"sync"
	"time"
)

// PrincipalCheck confirms, inside a request, the principal a read-only
// request was authorised with: the principal its access token resolved to
// on its previous request. The first transaction the request opens in its
// organization reads the user, session and organization in the statement
// that sets its tenant scope (no extra round trip) and settles the check
// before any of its own queries run; the API does not answer until the
// check is settled, settling it itself when the request opened no such
// transaction. A revoked session, a deactivated user or organization, or a
// changed role therefore takes effect on the very next request, as when
// the principal is read before the handler runs.
type PrincipalCheck struct {
	OrgID, UserID, SessionID string

	confirm func(u *User, sess *Session, org *Organization) (*Principal, error)

	mu       sync.Mutex
	state    checkState
	err      error
	current  *Principal
	lastUsed time.Time
}

type checkState uint8

const (
	checkPending checkState = iota
	checkTaken
	checkSettled
)

// NewPrincipalCheck returns a pending check of a principal. confirm
// receives the rows read (all nil when the session, user or organization
// no longer exists) and returns the principal they make now, or why they
// make none; it returns ErrPrincipalChanged (with that principal) when the
// principal is valid but differs from the one the request was authorised
// with.
func NewPrincipalCheck(orgID, userID, sessionID string, confirm func(u *User, sess *Session, org *Organization) (*Principal, error)) *PrincipalCheck {
	return &PrincipalCheck{OrgID: orgID, UserID: userID, SessionID: sessionID, confirm: confirm}
}

// ErrPrincipalChanged settles a check whose principal is still valid but
// not the one the request was authorised with (a role, team or permission
// changed): the request is authorised again with Current and runs again.
var ErrPrincipalChanged = &Error{Code: ECodeUnauthorized, Message: "your access changed: retry the request"}

// Take claims the pending check for a transaction in orgID; false when it
// was taken or settled already or belongs to another organization.
func (c *PrincipalCheck) Take(orgID string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != checkPending || orgID != c.OrgID {
		return false
	}
	c.state = checkTaken
	return true
}

// Release returns a taken check to pending: its statement did not run.
func (c *PrincipalCheck) Release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state == checkTaken {
		c.state = checkPending
	}
}

// Settle confirms the check with the rows read and returns its result.
func (c *PrincipalCheck) Settle(u *User, sess *Session, org *Organization) error {
	p, err := c.confirm(u, sess, org)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.state, c.err, c.current = checkSettled, err, p
	if sess != nil {
		c.lastUsed = sess.LastUsedAt
	}
	return err
}

// Settled reports whether the check was settled, with its result and the
// principal the rows made (nil when they made none).
func (c *PrincipalCheck) Settled() (bool, *Principal, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state == checkSettled, c.current, c.err
}

// SessionLastUsed is the session's last recorded use the check read.
func (c *PrincipalCheck) SessionLastUsed() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastUsed
}

type principalCheckKey struct{}

// WithPrincipalCheck returns ctx carrying c (nil removes a check).
func WithPrincipalCheck(ctx context.Context, c *PrincipalCheck) context.Context {
	return context.WithValue(ctx, principalCheckKey{}, c)
}

// PrincipalCheckFrom returns the check ctx carries, if any.
func PrincipalCheckFrom(ctx context.Context) *PrincipalCheck {
	c, _ := ctx.Value(principalCheckKey{}).(*PrincipalCheck)
	return c
}
