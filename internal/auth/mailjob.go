package auth

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/riverqueue/river"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/mail"
)

// Kinds of mail job.
const (
	MailVerifyEmail          = "verify_email"
	MailPasswordResetRequest = "password_reset_request"
	MailInvitation           = "invitation"
)

const resetRequestAAD = "password-reset-request"

// MailArgs is a queued mail. It carries ids only — plus, for a reset
// request by address, the address sealed with the installation's key — and
// never a token: the worker creates the one-time token when it sends, so no
// usable secret is ever stored in the queue.
type MailArgs struct {
	Mail        string `json:"mail"`
	OrgID       string `json:"org_id,omitempty"`
	UserID      string `json:"user_id,omitempty"`
	InviterID   string `json:"inviter_id,omitempty"`
	SealedEmail string `json:"sealed_email,omitempty"`
	RequestID   string `json:"request_id,omitempty"`
	IP          string `json:"ip,omitempty"`
}

// Kind implements river.JobArgs.
func (MailArgs) Kind() string { return "superagent.mail" }

// InsertOpts puts mails on the default queue with a few retries.
func (MailArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: river.QueueDefault, MaxAttempts: 5}
}

// MailWorker sends queued mails.
type MailWorker struct {
	river.WorkerDefaults[MailArgs]
	Service *Service
	Sender  mail.Sender
}

// Timeout implements river.Worker.
func (w *MailWorker) Timeout(*river.Job[MailArgs]) time.Duration { return 60 * time.Second }

// Work implements river.Worker.
func (w *MailWorker) Work(ctx context.Context, job *river.Job[MailArgs]) error {
	msg, err := w.Service.prepareMail(ctx, job.Args)
	if err != nil || msg == nil {
		return err
	}
	err = w.Sender.Send(ctx, *msg)
	if errors.Is(err, mail.ErrInvalidMessage) || errors.Is(err, mail.ErrRecipientRejected) {
		return river.JobCancel(err) // retrying the same mail cannot help
	}
	return err
}

// prepareMail creates the one-time token for a queued mail and renders it.
// It returns nil when there is nothing to send (no such account, already
// verified, deactivated).
func (s *Service) prepareMail(ctx context.Context, a MailArgs) (*mail.Message, error) {
	m := Meta{RequestID: a.RequestID, IP: a.IP}
	switch a.Mail {
	case MailPasswordResetRequest:
		email, err := s.box.Open(a.SealedEmail, []byte(resetRequestAAD))
		if err != nil {
			return nil, fmt.Errorf("open reset request: %w", err)
		}
		var u *domain.User
		err = s.store.Read(ctx, domain.SystemScope(domain.SystemLogin), func(q domain.Queries) error {
			var err error
			u, err = q.FindUserByLogin(string(email))
			return err
		})
		switch {
		case domain.IsCode(err, domain.ECodeNotFound) || (err == nil && u.Email != string(email)):
			// No account has this address (it may be someone's username).
			s.auditFailure(ctx, "", s.resetRequestFailedEvent(m, "", string(email), "unknown address"))
			return nil, nil
		case err != nil:
			return nil, err
		case !u.IsActive || u.DeletedAt != nil:
			s.auditFailure(ctx, u.OrgID, s.resetRequestFailedEvent(m, u.ID, "", "account inactive"))
			return nil, nil
		}
		token, err := s.issueToken(ctx, u, domain.PurposePasswordReset, PrefixPasswordReset, PasswordResetTTL, m, "auth.password_reset_requested")
		if err != nil {
			return nil, err
		}
		msg := mail.PasswordReset(u.Email, displayName(u), s.link("/reset-password", token), PasswordResetTTL)
		return &msg, nil
	case MailVerifyEmail:
		u, err := s.userFor(ctx, a.OrgID, a.UserID)
		if err != nil || u == nil || u.EmailVerifiedAt != nil {
			return nil, err
		}
		token, err := s.issueToken(ctx, u, domain.PurposeVerifyEmail, PrefixVerification, VerificationTTL, m, "")
		if err != nil {
			return nil, err
		}
		msg := mail.VerifyEmail(u.Email, displayName(u), s.link("/verify-email", token), VerificationTTL)
		return &msg, nil
	case MailInvitation:
		u, err := s.userFor(ctx, a.OrgID, a.UserID)
		if err != nil || u == nil || !u.Pending() {
			return nil, err
		}
		var inviter *domain.User
		var org *domain.Organization
		if err := s.store.Read(ctx, domain.OrgScope(a.OrgID), func(q domain.Queries) error {
			var err error
			if org, err = q.GetOrganization(a.OrgID); err != nil {
				return err
			}
			inviter, err = q.GetUser(a.InviterID)
			return err
		}); err != nil {
			return nil, err
		}
		token, err := s.issueToken(ctx, u, domain.PurposeInvitation, PrefixInvitation, InvitationTTL, m, "")
		if err != nil {
			return nil, err
		}
		msg := mail.Invitation(u.Email, displayName(inviter), org.Name, s.link("/accept-invitation", token), InvitationTTL)
		return &msg, nil
	}
	return nil, fmt.Errorf("unknown mail kind %q", a.Mail)
}

// resetRequestFailedEvent describes a password-reset request that sends no
// mail. The address is recorded only when it matches no account (as an
// unknown login is), and never reaches the requester.
func (s *Service) resetRequestFailedEvent(m Meta, userID, email, reason string) domain.AuditEvent {
	ev := m.event("auth.password_reset_request_failed")
	ev.UserID = userID
	if userID != "" {
		ev.ResourceType, ev.ResourceID = "user", userID
	}
	ev.ErrorMessage = reason
	ev.Details = map[string]any{"reason": reason}
	if email != "" {
		ev.Details["email"] = truncateRunes(email, 64)
	}
	return ev
}

func (s *Service) userFor(ctx context.Context, orgID, userID string) (*domain.User, error) {
	var u *domain.User
	err := s.store.Read(ctx, domain.OrgScope(orgID), func(q domain.Queries) error {
		var err error
		u, err = q.GetUser(userID)
		return err
	})
	if domain.IsCode(err, domain.ECodeNotFound) {
		return nil, nil
	}
	if err == nil && u.DeletedAt != nil {
		return nil, nil
	}
	return u, err
}

// issueToken replaces the user's outstanding tokens of the purpose with a
// new one and returns its plaintext, which only the mail carries.
func (s *Service) issueToken(ctx context.Context, u *domain.User, purpose domain.TokenPurpose, prefix string, ttl time.Duration, m Meta, action string) (string, error) {
	plain, hash := NewOpaqueToken(prefix)
	err := s.store.Write(ctx, domain.OrgScope(u.OrgID), func(tx domain.Tx) error {
		if err := tx.InvalidateOneTimeTokens(u.ID, purpose, tx.Now()); err != nil {
			return err
		}
		if err := tx.CreateOneTimeToken(&domain.OneTimeToken{ID: domain.NewID(domain.PrefixToken), UserID: u.ID, Purpose: purpose,
			TokenHash: hash, Data: map[string]string{"email": u.Email}, ExpiresAt: tx.Now().Add(ttl)}); err != nil {
			return err
		}
		if action != "" {
			ev := m.event(action)
			ev.UserID, ev.ResourceType, ev.ResourceID, ev.Success = u.ID, "user", u.ID, true
			tx.Audit(ev)
		}
		return nil
	})
	return plain, err
}

// link builds a link into the web app. The token travels in the fragment,
// so it never reaches server logs or Referer headers.
func (s *Service) link(path, token string) string {
	return s.set.PublicURL + path + "#token=" + url.QueryEscape(token)
}

func displayName(u *domain.User) string {
	if u == nil {
		return ""
	}
	if u.FullName != "" {
		return u.FullName
	}
	return u.Username
}
