package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
)

const sessionColumns = `id, org_id, user_id, created_at, last_used_at, expires_at, ip_address, user_agent, revoked_at, revoked_reason`

func scanSession(row interface{ Scan(...any) error }) (*domain.Session, error) {
	var s domain.Session
	err := row.Scan(&s.ID, &s.OrgID, &s.UserID, utcTime{&s.CreatedAt}, utcTime{&s.LastUsedAt}, utcTime{&s.ExpiresAt},
		&s.IPAddress, &s.UserAgent, nullTime{&s.RevokedAt}, &s.RevokedReason)
	return &s, err
}

func (q *queries) CreateSession(s *domain.Session) error {
	org, err := q.org()
	if err != nil {
		return err
	}
	s.OrgID = org
	if s.CreatedAt.IsZero() {
		s.CreatedAt = q.now
	}
	if s.LastUsedAt.IsZero() {
		s.LastUsedAt = s.CreatedAt
	}
	_, err = q.exec(`INSERT INTO sessions (`+sessionColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		s.ID, s.OrgID, s.UserID, s.CreatedAt, s.LastUsedAt, s.ExpiresAt.UTC(), s.IPAddress, s.UserAgent,
		nullable(s.RevokedAt), s.RevokedReason)
	return err
}

func (q *queries) GetSession(id string) (*domain.Session, error) {
	org, err := q.org()
	if err != nil {
		return nil, err
	}
	s, err := scanSession(q.queryRow(`SELECT `+sessionColumns+` FROM sessions WHERE org_id = $1 AND id = $2`, org, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("session")
	}
	return s, q.s.translate(err)
}

// principalColumns is what authentication reads: the user, the session
// and the organization.
const principalColumns = `u.id, u.org_id, u.team_id, u.email, u.username, u.full_name, u.role, u.permissions,
	u.is_active, u.email_verified_at, u.mfa_enabled, u.deleted_at, u.password_hash <> '',
	s.id, s.user_id, s.created_at, s.last_used_at, s.expires_at, s.revoked_at,
	o.id, o.plan, o.require_mfa, o.is_active`

// principalSQLite reads a principal on SQLite, where there is no tenant
// setting (PostgreSQL: principalInScope).
const principalSQLite = `SELECT ` + principalColumns + `
	FROM users u JOIN sessions s ON s.org_id = u.org_id AND s.user_id = u.id
	JOIN organizations o ON o.id = u.org_id
	WHERE u.org_id = $1 AND u.id = $2 AND s.id = $3`

// principalInScope sets a transaction's tenant scope and reads the
// principal in one statement. The principal's rows are read in a LATERAL
// subquery that takes the organization from what set_config returned, so
// the scope is set before they are read and row-level security applies to
// them as in any scoped query (were it not, they would be hidden and the
// check would fail closed). It also sets the generic plans every scoped
// transaction runs on (applyScope). Calling session_principal() instead, which sets
// the scope itself, cost about 65 µs more a transaction
// (BenchmarkTenantScope).
const principalInScope = `SELECT p.* FROM
	(SELECT set_config('app.org_id', $1, true) AS org, set_config('app.system', '', true),
		set_config('plan_cache_mode', 'force_generic_plan', true) OFFSET 0) scope,
	LATERAL (SELECT ` + principalColumns + `
		FROM users u JOIN sessions s ON s.org_id = u.org_id AND s.user_id = u.id
		JOIN organizations o ON o.id = u.org_id
		WHERE u.org_id = scope.org AND u.id = $2 AND s.id = $3) p`

// scanPrincipal reads one row of principalColumns; all nil without a row.
func scanPrincipal(row *sql.Row, orgID string) (*domain.User, *domain.Session, *domain.Organization, error) {
	var u domain.User
	var sess domain.Session
	var role string
	var o domain.Organization
	var plan string
	err := row.Scan(
		&u.ID, &u.OrgID, strCol{&u.TeamID}, &u.Email, &u.Username, &u.FullName, &role, jsonCol{&u.Permissions},
		&u.IsActive, nullTime{&u.EmailVerifiedAt}, &u.MFAEnabled, nullTime{&u.DeletedAt}, new(bool),
		&sess.ID, &sess.UserID, utcTime{&sess.CreatedAt}, utcTime{&sess.LastUsedAt}, utcTime{&sess.ExpiresAt}, nullTime{&sess.RevokedAt},
		&o.ID, &plan, &o.RequireMFA, &o.IsActive)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, nil, nil
	}
	if err != nil {
		return nil, nil, nil, err
	}
	u.Role, o.Plan, sess.OrgID = domain.Role(role), domain.Plan(plan), orgID
	return &u, &sess, &o, nil
}

// SessionPrincipal implements domain.Store: one statement outside any
// transaction (a single statement reads one snapshot). On PostgreSQL it
// sets the scope for its own (implicit) transaction in the same statement
// (principalInScope).
func (s *Store) SessionPrincipal(ctx context.Context, orgID, userID, sessionID string) (*domain.User, *domain.Session, *domain.Organization, error) {
	if orgID == "" {
		return nil, nil, nil, domain.NotFound("session")
	}
	query := principalInScope
	if s.kind != KindPostgres {
		query = principalSQLite
	}
	u, sess, o, err := scanPrincipal(s.reader.QueryRowContext(ctx, query, orgID, userID, sessionID), orgID)
	if err != nil {
		return nil, nil, nil, s.translate(fmt.Errorf("session principal: %w", err))
	}
	if u == nil {
		return nil, nil, nil, domain.NotFound("session")
	}
	return u, sess, o, nil
}

func (q *queries) ListSessions(userID string, p domain.Page) ([]domain.Session, string, error) {
	org, err := q.org()
	if err != nil {
		return nil, "", err
	}
	p = p.Normalize()
	var a argList
	where := "org_id = " + a.add(org) + " AND user_id = " + a.add(userID) + " AND revoked_at IS NULL AND expires_at > " + a.add(q.now)
	if p.Cursor != "" {
		ts, id, err := decodeCursor(p.Cursor)
		if err != nil {
			return nil, "", err
		}
		// Newest first, ties by id ascending: the rows after (ts, id).
		t, i := a.add(ts), a.add(id)
		where += " AND (created_at < " + t + " OR (created_at = " + t + " AND id > " + i + "))"
	}
	rows, err := q.query(`SELECT `+sessionColumns+` FROM sessions WHERE `+where+
		` ORDER BY created_at DESC, id LIMIT `+a.add(p.Limit+1), a.args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var out []domain.Session
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, "", q.s.translate(err)
		}
		out = append(out, *s)
	}
	if err := rows.Err(); err != nil {
		return nil, "", q.s.translate(err)
	}
	next := ""
	if len(out) > p.Limit {
		out = out[:p.Limit]
		next = encodeCursor(out[len(out)-1].CreatedAt, out[len(out)-1].ID)
	}
	return out, next, nil
}

func (q *queries) TouchSession(id string, at time.Time, minGap time.Duration) error {
	org, err := q.org()
	if err != nil {
		return err
	}
	_, err = q.exec(`UPDATE sessions SET last_used_at = $3 WHERE org_id = $1 AND id = $2 AND last_used_at < $4`,
		org, id, at.UTC(), at.UTC().Add(-minGap))
	return err
}

func (q *queries) RevokeSession(id, reason string, at time.Time) error {
	org, err := q.org()
	if err != nil {
		return err
	}
	return q.execOne("session", `UPDATE sessions SET revoked_at = COALESCE(revoked_at, $3), revoked_reason = CASE
		WHEN revoked_at IS NULL THEN $4 ELSE revoked_reason END WHERE org_id = $1 AND id = $2`, org, id, at.UTC(), reason)
}

func (q *queries) RevokeUserSessions(userID, reason string, at time.Time) (int, error) {
	org, err := q.org()
	if err != nil {
		return 0, err
	}
	res, err := q.exec(`UPDATE sessions SET revoked_at = $3, revoked_reason = $4
		WHERE org_id = $1 AND user_id = $2 AND revoked_at IS NULL`, org, userID, at.UTC(), reason)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), q.s.translate(err)
}

const refreshColumns = `id, org_id, session_id, token_hash, parent_id, created_at, expires_at, used_at`

func (q *queries) CreateRefreshToken(t *domain.RefreshToken) error {
	org, err := q.org()
	if err != nil {
		return err
	}
	t.OrgID = org
	if t.CreatedAt.IsZero() {
		t.CreatedAt = q.now
	}
	_, err = q.exec(`INSERT INTO refresh_tokens (`+refreshColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		t.ID, t.OrgID, t.SessionID, t.TokenHash, nullString(t.ParentID), t.CreatedAt, t.ExpiresAt.UTC(), nullable(t.UsedAt))
	return err
}

func (q *queries) GetRefreshTokenByHash(hash string) (*domain.RefreshToken, error) {
	if err := q.requireSystem("GetRefreshTokenByHash"); err != nil {
		return nil, err
	}
	var t domain.RefreshToken
	err := q.queryRow(`SELECT `+refreshColumns+` FROM refresh_tokens WHERE token_hash = $1`, hash).Scan(
		&t.ID, &t.OrgID, &t.SessionID, &t.TokenHash, strCol{&t.ParentID}, utcTime{&t.CreatedAt}, utcTime{&t.ExpiresAt},
		nullTime{&t.UsedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("refresh token")
	}
	return &t, q.s.translate(err)
}

func (q *queries) UseRefreshToken(id string, at time.Time) (bool, error) {
	org, err := q.org()
	if err != nil {
		return false, err
	}
	return q.claimOnce(`UPDATE refresh_tokens SET used_at = $3 WHERE org_id = $1 AND id = $2 AND used_at IS NULL`,
		org, id, at.UTC())
}

// claimOnce runs a conditional update and reports whether it changed a row:
// the atomic "first one wins" used by single-use tokens.
func (q *queries) claimOnce(query string, args ...any) (bool, error) {
	res, err := q.exec(query, args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, q.s.translate(err)
}

const apiKeyColumns = `id, org_id, created_by, name, prefix, secret_hash, role, permissions, expires_at, last_used_at, revoked_at, created_at`

func scanAPIKey(row interface{ Scan(...any) error }) (*domain.APIKey, error) {
	var k domain.APIKey
	var role string
	err := row.Scan(&k.ID, &k.OrgID, &k.CreatedBy, &k.Name, &k.Prefix, &k.SecretHash, &role, jsonCol{&k.Permissions},
		nullTime{&k.ExpiresAt}, nullTime{&k.LastUsedAt}, nullTime{&k.RevokedAt}, utcTime{&k.CreatedAt})
	k.Role = domain.Role(role)
	return &k, err
}

func (q *queries) CreateAPIKey(k *domain.APIKey) error {
	org, err := q.org()
	if err != nil {
		return err
	}
	k.OrgID, k.CreatedAt = org, q.now
	perms := k.Permissions
	if perms == nil {
		perms = []domain.Permission{}
	}
	_, err = q.exec(`INSERT INTO api_keys (`+apiKeyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		k.ID, k.OrgID, k.CreatedBy, k.Name, k.Prefix, k.SecretHash, string(k.Role), toJSON(perms),
		nullable(k.ExpiresAt), nullable(k.LastUsedAt), nullable(k.RevokedAt), k.CreatedAt)
	return err
}

func (q *queries) GetAPIKey(id string) (*domain.APIKey, error) {
	org, err := q.org()
	if err != nil {
		return nil, err
	}
	k, err := scanAPIKey(q.queryRow(`SELECT `+apiKeyColumns+` FROM api_keys WHERE org_id = $1 AND id = $2`, org, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("API key")
	}
	return k, q.s.translate(err)
}

func (q *queries) GetAPIKeyByHash(hash string) (*domain.APIKey, error) {
	if err := q.requireSystem("GetAPIKeyByHash"); err != nil {
		return nil, err
	}
	k, err := scanAPIKey(q.queryRow(`SELECT `+apiKeyColumns+` FROM api_keys WHERE secret_hash = $1`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("API key")
	}
	return k, q.s.translate(err)
}

func (q *queries) ListAPIKeys(p domain.Page) ([]domain.APIKey, string, error) {
	org, err := q.org()
	if err != nil {
		return nil, "", err
	}
	p = p.Normalize()
	var a argList
	where := "org_id = " + a.add(org)
	if p.Cursor != "" {
		ts, id, err := decodeCursor(p.Cursor)
		if err != nil {
			return nil, "", err
		}
		where += fmt.Sprintf(" AND (created_at, id) > (%s, %s)", a.add(ts), a.add(id))
	}
	rows, err := q.query(`SELECT `+apiKeyColumns+` FROM api_keys WHERE `+where+` ORDER BY created_at, id LIMIT `+
		a.add(p.Limit+1), a.args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var out []domain.APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, "", q.s.translate(err)
		}
		out = append(out, *k)
	}
	if err := rows.Err(); err != nil {
		return nil, "", q.s.translate(err)
	}
	next := ""
	if len(out) > p.Limit {
		out = out[:p.Limit]
		next = encodeCursor(out[len(out)-1].CreatedAt, out[len(out)-1].ID)
	}
	return out, next, nil
}

func (q *queries) RevokeAPIKey(id string, at time.Time) error {
	org, err := q.org()
	if err != nil {
		return err
	}
	return q.execOne("API key", `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $3) WHERE org_id = $1 AND id = $2`,
		org, id, at.UTC())
}

func (q *queries) TouchAPIKey(id string, at time.Time, minGap time.Duration) error {
	org, err := q.org()
	if err != nil {
		return err
	}
	_, err = q.exec(`UPDATE api_keys SET last_used_at = $3 WHERE org_id = $1 AND id = $2
		AND (last_used_at IS NULL OR last_used_at < $4)`, org, id, at.UTC(), at.UTC().Add(-minGap))
	return err
}

const oneTimeColumns = `id, org_id, user_id, purpose, token_hash, data, expires_at, used_at, created_at`

func (q *queries) CreateOneTimeToken(t *domain.OneTimeToken) error {
	org, err := q.org()
	if err != nil {
		return err
	}
	t.OrgID, t.CreatedAt = org, q.now
	data := t.Data
	if data == nil {
		data = map[string]string{}
	}
	_, err = q.exec(`INSERT INTO one_time_tokens (`+oneTimeColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		t.ID, t.OrgID, t.UserID, string(t.Purpose), t.TokenHash, toJSON(data), t.ExpiresAt.UTC(), nullable(t.UsedAt), t.CreatedAt)
	return err
}

func (q *queries) GetOneTimeTokenByHash(hash string) (*domain.OneTimeToken, error) {
	if err := q.requireSystem("GetOneTimeTokenByHash"); err != nil {
		return nil, err
	}
	var t domain.OneTimeToken
	var purpose string
	err := q.queryRow(`SELECT `+oneTimeColumns+` FROM one_time_tokens WHERE token_hash = $1`, hash).Scan(
		&t.ID, &t.OrgID, &t.UserID, &purpose, &t.TokenHash, jsonCol{&t.Data}, utcTime{&t.ExpiresAt}, nullTime{&t.UsedAt},
		utcTime{&t.CreatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("token")
	}
	t.Purpose = domain.TokenPurpose(purpose)
	return &t, q.s.translate(err)
}

func (q *queries) UseOneTimeToken(id string, at time.Time) (bool, error) {
	org, err := q.org()
	if err != nil {
		return false, err
	}
	return q.claimOnce(`UPDATE one_time_tokens SET used_at = $3 WHERE org_id = $1 AND id = $2 AND used_at IS NULL`,
		org, id, at.UTC())
}

func (q *queries) InvalidateOneTimeTokens(userID string, purpose domain.TokenPurpose, at time.Time) error {
	org, err := q.org()
	if err != nil {
		return err
	}
	_, err = q.exec(`UPDATE one_time_tokens SET used_at = $4 WHERE org_id = $1 AND user_id = $2 AND purpose = $3
		AND used_at IS NULL`, org, userID, string(purpose), at.UTC())
	return err
}

func (q *queries) ReplaceRecoveryCodes(userID string, hashes []string, at time.Time) error {
	org, err := q.org()
	if err != nil {
		return err
	}
	if _, err := q.exec(`DELETE FROM mfa_recovery_codes WHERE org_id = $1 AND user_id = $2`, org, userID); err != nil {
		return err
	}
	for _, h := range hashes {
		if _, err := q.exec(`INSERT INTO mfa_recovery_codes (id, org_id, user_id, code_hash, created_at)
			VALUES ($1, $2, $3, $4, $5)`, domain.NewID(domain.PrefixRecovery), org, userID, h, at.UTC()); err != nil {
			return err
		}
	}
	return nil
}

func (q *queries) UseRecoveryCode(userID, hash string, at time.Time) (bool, error) {
	org, err := q.org()
	if err != nil {
		return false, err
	}
	return q.claimOnce(`UPDATE mfa_recovery_codes SET used_at = $4 WHERE id = (SELECT id FROM mfa_recovery_codes
		WHERE org_id = $1 AND user_id = $2 AND code_hash = $3 AND used_at IS NULL LIMIT 1) AND used_at IS NULL`,
		org, userID, hash, at.UTC())
}

func (q *queries) CountRecoveryCodes(userID string) (int, error) {
	org, err := q.org()
	if err != nil {
		return 0, err
	}
	var n int
	err = q.queryRow(`SELECT count(*) FROM mfa_recovery_codes WHERE org_id = $1 AND user_id = $2 AND used_at IS NULL`,
		org, userID).Scan(&n)
	return n, q.s.translate(err)
}
