package httpapi

import (
	"context"

	"github.com/superagent-hq/superagent/internal/domain"
)

// auditEvent starts an audit row for the request in ctx: actor, client IP
// (from trusted proxies only), user agent and request id are filled in.
// Record it with tx.Audit inside the transaction that makes the change.
func auditEvent(ctx context.Context, action, resourceType, resourceID string, details map[string]any) domain.AuditEvent {
	ev := domain.AuditEvent{Action: action, ResourceType: resourceType, ResourceID: resourceID, Details: details, Success: true}
	if p := PrincipalFrom(ctx); p != nil {
		ev.OrgID, ev.UserID, ev.APIKeyID = p.OrgID, p.UserID, p.APIKeyID
	}
	if ri := reqInfoFrom(ctx); ri != nil {
		ev.IPAddress, ev.UserAgent, ev.RequestID = ri.ip, ri.userAgent, ri.id
	}
	return ev
}

// principal returns the request's principal; routes behind the gate always have one.
func principal(ctx context.Context) *domain.Principal {
	if p := PrincipalFrom(ctx); p != nil {
		return p
	}
	return &domain.Principal{} // unreachable behind the gate; an empty principal can do nothing
}
