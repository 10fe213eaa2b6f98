package auth

import (
	"context"
	"encoding/base64"

	"github.com/superagent-hq/superagent/internal/domain"
)

// RecoveryCodeCount is how many one-time recovery codes MFA enrolment gives.
const RecoveryCodeCount = 10

const totpIssuer = "Super Agent"

func mfaAAD(userID string) []byte { return []byte("mfa-totp:" + userID) }

// startMFAChallenge stores a short-lived challenge after a correct password
// and returns it as an *MFARequiredError.
func (s *Service) startMFAChallenge(ctx context.Context, u *domain.User, newHash string, m Meta) error {
	plain, hash := NewOpaqueToken(PrefixMFAChallenge)
	err := s.store.Write(ctx, domain.OrgScope(u.OrgID), func(tx domain.Tx) error {
		data := map[string]string{}
		if newHash != "" {
			data["rehash"] = newHash // argon2id hash, not a secret in itself
		}
		return tx.CreateOneTimeToken(&domain.OneTimeToken{ID: domain.NewID(domain.PrefixToken), UserID: u.ID,
			Purpose: domain.PurposeMFAChallenge, TokenHash: hash, Data: data, ExpiresAt: tx.Now().Add(MFAChallengeTTL)})
	})
	if err != nil {
		return err
	}
	return &MFARequiredError{Token: plain, ExpiresIn: int(MFAChallengeTTL.Seconds())}
}

// redeemToken finds an unused, unexpired one-time token of the purpose for
// a flow whose refusals are audited: a refused token is recorded as action (a failure) with the reason, in the
// organization of the token's user when the token exists, else in the
// installation chain. The token itself never goes into the row.
func (s *Service) redeemToken(ctx context.Context, plain, prefix string, purpose domain.TokenPurpose, action string, m Meta) (*domain.OneTimeToken, error) {
	t, reason, err := s.findToken(ctx, plain, prefix, purpose)
	if reason != "" {
		s.tokenRefused(ctx, t, action, reason, m)
	}
	if err != nil {
		return nil, err
	}
	return t, nil
}

// tokenRefused audits a refused one-time token. t may be nil (no such token).
func (s *Service) tokenRefused(ctx context.Context, t *domain.OneTimeToken, action, reason string, m Meta) {
	ev := m.event(action)
	ev.ErrorMessage = reason
	ev.Details = map[string]any{"reason": reason}
	orgID := ""
	if t != nil {
		orgID = t.OrgID
		ev.UserID, ev.ResourceType, ev.ResourceID = t.UserID, "user", t.UserID
	}
	s.auditFailure(ctx, orgID, ev)
}

// errTokenRefused is the one answer for a one-time token that cannot be used.
var errTokenRefused = unauthorized("invalid or expired token")

// findToken looks a one-time token up. When it cannot be used it returns
// errTokenRefused and the reason, plus the stored token when there is one
// (of another purpose, used or expired).
func (s *Service) findToken(ctx context.Context, plain, prefix string, purpose domain.TokenPurpose) (*domain.OneTimeToken, string, error) {
	if TokenPrefix(plain) != prefix {
		return nil, "malformed token or token of another kind", errTokenRefused
	}
	var t *domain.OneTimeToken
	err := s.store.Read(ctx, domain.SystemScope(domain.SystemTokenHash), func(q domain.Queries) error {
		var err error
		t, err = q.GetOneTimeTokenByHash(HashToken(plain))
		return err
	})
	if domain.IsCode(err, domain.ECodeNotFound) {
		return nil, "unknown token", errTokenRefused
	}
	if err != nil {
		return nil, "", err
	}
	switch {
	case t.Purpose != purpose:
		return t, "token of another purpose", errTokenRefused
	case t.UsedAt != nil:
		return t, "token already used", errTokenRefused
	case !s.clock().Before(t.ExpiresAt):
		return t, "token expired", errTokenRefused
	}
	return t, "", nil
}

// checkSecondFactor accepts a TOTP code (each time step once) or an unused
// recovery code, inside tx. It returns the method used, or "" when neither matched.
func (s *Service) checkSecondFactor(tx domain.Tx, u *domain.User, code string) (string, error) {
	if u.MFASecret != "" {
		secret, err := s.box.Open(u.MFASecret, mfaAAD(u.ID))
		if err != nil {
			return "", err
		}
		if step, ok := VerifyTOTP(string(secret), code, tx.Now(), u.MFALastStep); ok {
			u.MFALastStep = step
			return "totp", tx.UpdateUser(u)
		}
	}
	if len(code) >= 10 {
		ok, err := tx.UseRecoveryCode(u.ID, HashRecoveryCode(code), tx.Now())
		if err != nil || ok {
			return "recovery_code", err
		}
	}
	return "", nil
}

// VerifyMFA exchanges an MFA challenge and a TOTP or recovery code for a
// token pair. Wrong codes count toward the account's lockout like wrong
// passwords, and a locked account's challenge is refused.
func (s *Service) VerifyMFA(ctx context.Context, challenge, code string, m Meta) (*TokenPair, error) {
	t, err := s.redeemToken(ctx, challenge, PrefixMFAChallenge, domain.PurposeMFAChallenge, "auth.mfa_failed", m)
	if err != nil {
		return nil, err
	}
	var u *domain.User
	var method, refused string
	err = s.store.Write(ctx, domain.OrgScope(t.OrgID), func(tx domain.Tx) error {
		var err error
		refused = ""
		if u, err = tx.GetUser(t.UserID); err != nil {
			return err
		}
		if !u.IsActive || u.DeletedAt != nil || !u.MFAEnabled {
			refused = "account inactive or MFA disabled"
			return ErrInvalidCredentials
		}
		if u.LockedUntil != nil && tx.Now().Before(*u.LockedUntil) {
			refused = "account locked"
			return unauthorized("too many failed attempts; try again later")
		}
		method, err = s.checkSecondFactor(tx, u, code)
		return err
	})
	if refused != "" {
		s.tokenRefused(ctx, t, "auth.mfa_failed", refused, m)
	}
	if err != nil {
		return nil, err
	}
	if method == "" {
		s.mfaFailed(ctx, u, m)
		return nil, unauthorized("invalid code")
	}
	var raced bool
	pair, err := s.completeLogin(ctx, u, m, "password+"+method, func(tx domain.Tx) error {
		raced = false
		won, err := tx.UseOneTimeToken(t.ID, tx.Now())
		if err != nil {
			return err
		}
		if !won {
			raced = true
			return errTokenRefused
		}
		return s.storeRehash(tx, u.ID, t.Data["rehash"])
	})
	if raced {
		s.tokenRefused(ctx, t, "auth.mfa_failed", "token already used", m)
	}
	return pair, err
}

// mfaFailed records a wrong second factor: it counts toward the account's
// lockout (which VerifyMFA honours), so codes cannot be guessed at speed.
func (s *Service) mfaFailed(ctx context.Context, u *domain.User, m Meta) {
	s.recordFailure(ctx, u, m, "wrong second factor")
	ev := m.event("auth.mfa_failed")
	ev.UserID, ev.ResourceType, ev.ResourceID = u.ID, "user", u.ID
	s.auditFailure(ctx, u.OrgID, ev)
}

// Enrollment is a started TOTP enrolment.
type Enrollment struct {
	Secret     string
	OTPAuthURI string
	QRCodePNG  string // base64
}

// EnrollMFA starts TOTP enrolment: a new secret, stored encrypted, that
// becomes active once ConfirmMFA sees a valid code.
func (s *Service) EnrollMFA(ctx context.Context, p *domain.Principal, m Meta) (*Enrollment, error) {
	if err := requireSession(p); err != nil {
		return nil, err
	}
	var out *Enrollment
	err := s.store.Write(ctx, p.Scope(), func(tx domain.Tx) error {
		u, err := tx.GetUser(p.UserID)
		if err != nil {
			return err
		}
		if u.MFAEnabled {
			return domain.Errorf(domain.ECodeConflict, "MFA is already enabled; disable it first to enrol a new device")
		}
		secret, uri, png, err := NewTOTP(totpIssuer, u.Email)
		if err != nil {
			return err
		}
		sealed, err := s.box.Seal([]byte(secret), mfaAAD(u.ID))
		if err != nil {
			return err
		}
		u.MFASecret, u.MFALastStep = sealed, 0
		if err := tx.UpdateUser(u); err != nil {
			return err
		}
		ev := m.event("auth.mfa_enrollment_started")
		ev.UserID, ev.APIKeyID, ev.ResourceType, ev.ResourceID, ev.Success = p.UserID, p.APIKeyID, "user", u.ID, true
		tx.Audit(ev)
		out = &Enrollment{Secret: secret, OTPAuthURI: uri, QRCodePNG: base64.StdEncoding.EncodeToString(png)}
		return nil
	})
	return out, err
}

// ConfirmMFA activates a started enrolment with a valid code and returns
// the recovery codes (shown once; stored hashed).
func (s *Service) ConfirmMFA(ctx context.Context, p *domain.Principal, code string, m Meta) ([]string, error) {
	if err := requireSession(p); err != nil {
		return nil, err
	}
	var codes []string
	var failed bool
	err := s.store.Write(ctx, p.Scope(), func(tx domain.Tx) error {
		u, err := tx.GetUser(p.UserID)
		if err != nil {
			return err
		}
		if u.MFAEnabled {
			return domain.Errorf(domain.ECodeConflict, "MFA is already enabled")
		}
		if u.MFASecret == "" {
			return domain.Errorf(domain.ECodeConflict, "start enrolment first (POST /api/v1/auth/mfa/enroll)")
		}
		secret, err := s.box.Open(u.MFASecret, mfaAAD(u.ID))
		if err != nil {
			return err
		}
		step, ok := VerifyTOTP(string(secret), code, tx.Now(), u.MFALastStep)
		if !ok {
			ev := m.event("auth.mfa_failed")
			ev.UserID, ev.ResourceType, ev.ResourceID, ev.ErrorMessage = u.ID, "user", u.ID, "invalid code during enrolment"
			tx.Audit(ev)
			failed = true
			return nil
		}
		u.MFAEnabled, u.MFALastStep = true, step
		if err := tx.UpdateUser(u); err != nil {
			return err
		}
		var hashes []string
		codes, hashes = NewRecoveryCodes(RecoveryCodeCount)
		if err := tx.ReplaceRecoveryCodes(u.ID, hashes, tx.Now()); err != nil {
			return err
		}
		ev := m.event("auth.mfa_enrolled")
		ev.UserID, ev.ResourceType, ev.ResourceID, ev.Success = u.ID, "user", u.ID, true
		tx.Audit(ev)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if failed {
		return nil, domain.Invalid("invalid code", domain.FieldError{Pointer: "/code", Message: "the code does not match; check the device's clock"})
	}
	return codes, nil
}

// DisableMFA turns MFA off after checking the password and a current code
// (or a recovery code).
func (s *Service) DisableMFA(ctx context.Context, p *domain.Principal, password, code string, m Meta) error {
	if err := requireSession(p); err != nil {
		return err
	}
	var u *domain.User
	if err := s.store.Read(ctx, p.Scope(), func(q domain.Queries) error {
		var err error
		u, err = q.GetUser(p.UserID)
		return err
	}); err != nil {
		return err
	}
	if !u.MFAEnabled {
		return domain.Errorf(domain.ECodeConflict, "MFA is not enabled")
	}
	ok, _, err := s.hasher.Verify(ctx, password, u.PasswordHash)
	if err != nil {
		return err
	}
	var wrong bool
	err = s.store.Write(ctx, p.Scope(), func(tx domain.Tx) error {
		cur, err := tx.GetUser(p.UserID)
		if err != nil {
			return err
		}
		method := ""
		if ok {
			if method, err = s.checkSecondFactor(tx, cur, code); err != nil {
				return err
			}
		}
		if method == "" {
			ev := m.event("auth.mfa_failed")
			ev.UserID, ev.ResourceType, ev.ResourceID, ev.ErrorMessage = u.ID, "user", u.ID, "disable refused: wrong password or code"
			tx.Audit(ev)
			wrong = true
			return nil
		}
		cur.MFAEnabled, cur.MFASecret, cur.MFALastStep = false, "", 0
		if err := tx.UpdateUser(cur); err != nil {
			return err
		}
		if err := tx.ReplaceRecoveryCodes(cur.ID, nil, tx.Now()); err != nil {
			return err
		}
		ev := m.event("auth.mfa_disabled")
		ev.UserID, ev.ResourceType, ev.ResourceID, ev.Success = u.ID, "user", u.ID, true
		tx.Audit(ev)
		return nil
	})
	if err != nil {
		return err
	}
	if wrong {
		return domain.Invalid("the password or code is wrong")
	}
	return nil
}
