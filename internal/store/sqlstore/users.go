package sqlstore

import (
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
)

const userColumns = `id, org_id, team_id, email, username, full_name, password_hash, role, permissions, is_active,
	email_verified_at, mfa_enabled, mfa_secret, mfa_last_step, last_login, failed_logins, failed_window_start,
	locked_until, password_changed_at, invited_by, created_at, updated_at, deleted_at`

func scanUser(row interface{ Scan(...any) error }) (*domain.User, error) {
	var u domain.User
	var role string
	err := row.Scan(&u.ID, &u.OrgID, strCol{&u.TeamID}, &u.Email, &u.Username, &u.FullName, &u.PasswordHash, &role,
		jsonCol{&u.Permissions}, &u.IsActive, nullTime{&u.EmailVerifiedAt}, &u.MFAEnabled, &u.MFASecret,
		&u.MFALastStep, nullTime{&u.LastLogin}, &u.FailedLogins, nullTime{&u.FailedWindowStart},
		nullTime{&u.LockedUntil}, nullTime{&u.PasswordChangedAt}, strCol{&u.InvitedBy}, utcTime{&u.CreatedAt},
		utcTime{&u.UpdatedAt}, nullTime{&u.DeletedAt})
	u.Role = domain.Role(role)
	return &u, err
}

func userArgs(u *domain.User) []any {
	perms := u.Permissions
	if perms == nil {
		perms = []domain.Permission{}
	}
	return []any{u.ID, u.OrgID, nullString(u.TeamID), u.Email, u.Username, u.FullName, u.PasswordHash, string(u.Role),
		toJSON(perms), u.IsActive, nullable(u.EmailVerifiedAt), u.MFAEnabled, u.MFASecret, u.MFALastStep,
		nullable(u.LastLogin), u.FailedLogins, nullable(u.FailedWindowStart), nullable(u.LockedUntil),
		nullable(u.PasswordChangedAt), nullString(u.InvitedBy), u.CreatedAt, u.UpdatedAt, nullable(u.DeletedAt)}
}

func (q *queries) CreateUser(u *domain.User) error {
	org, err := q.org()
	if err != nil {
		return err
	}
	u.OrgID, u.CreatedAt, u.UpdatedAt = org, q.now, q.now
	u.Email, u.Username = strings.ToLower(u.Email), strings.ToLower(u.Username)
	_, err = q.exec(`INSERT INTO users (`+userColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
		$13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)`, userArgs(u)...)
	return userConflict(err)
}

// userConflict names which unique field clashed, without saying where.
func userConflict(err error) error {
	if !domain.IsCode(err, domain.ECodeConflict) {
		return err
	}
	msg := strings.ToLower(err.Error())
	switch {
	case strings.Contains(msg, "email"):
		return domain.Errorf(domain.ECodeConflict, "a user with this email already exists")
	case strings.Contains(msg, "username"):
		return domain.Errorf(domain.ECodeConflict, "a user with this username already exists")
	}
	return domain.Errorf(domain.ECodeConflict, "a user with this email or username already exists")
}

func (q *queries) GetUser(id string) (*domain.User, error) {
	org, err := q.org()
	if err != nil {
		return nil, err
	}
	u, err := scanUser(q.queryRow(`SELECT `+userColumns+` FROM users WHERE org_id = $1 AND id = $2`, org, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("user")
	}
	return u, q.s.translate(err)
}

func (q *queries) FindUserByLogin(login string) (*domain.User, error) {
	if err := q.requireSystem("FindUserByLogin"); err != nil {
		return nil, err
	}
	login = strings.ToLower(strings.TrimSpace(login))
	u, err := scanUser(q.queryRow(`SELECT `+userColumns+` FROM users
		WHERE (email = $1 OR username = $1) AND deleted_at IS NULL`, login))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("user")
	}
	return u, q.s.translate(err)
}

func (q *queries) FindUserByEmail(email string) (*domain.User, error) {
	org, err := q.org()
	if err != nil {
		return nil, err
	}
	u, err := scanUser(q.queryRow(`SELECT `+userColumns+` FROM users WHERE org_id = $1 AND email = $2`,
		org, strings.ToLower(strings.TrimSpace(email))))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("user")
	}
	return u, q.s.translate(err)
}

func (q *queries) ListUsers(f domain.UserFilter) ([]domain.User, string, error) {
	org, err := q.org()
	if err != nil {
		return nil, "", err
	}
	p := f.Page.Normalize()
	var a argList
	where := []string{"org_id = " + a.add(org)}
	if !f.Deleted {
		where = append(where, "deleted_at IS NULL")
	}
	if f.TeamID != "" {
		where = append(where, "team_id = "+a.add(f.TeamID))
	}
	if f.Role != "" {
		where = append(where, "role = "+a.add(string(f.Role)))
	}
	if f.Active != nil {
		where = append(where, "is_active = "+a.add(*f.Active))
	}
	if f.Search != "" {
		pat := a.add(likePattern(strings.ToLower(f.Search)))
		where = append(where, "(email LIKE "+pat+` ESCAPE '\' OR username LIKE `+pat+` ESCAPE '\' OR lower(full_name) LIKE `+pat+` ESCAPE '\')`)
	}
	if p.Cursor != "" {
		ts, id, err := decodeCursor(p.Cursor)
		if err != nil {
			return nil, "", err
		}
		where = append(where, "(created_at, id) > ("+a.add(ts)+", "+a.add(id)+")")
	}
	rows, err := q.query(`SELECT `+userColumns+` FROM users WHERE `+strings.Join(where, " AND ")+
		` ORDER BY created_at, id LIMIT `+a.add(p.Limit+1), a.args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var out []domain.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, "", q.s.translate(err)
		}
		out = append(out, *u)
	}
	if err := rows.Err(); err != nil {
		return nil, "", q.s.translate(err)
	}
	next := ""
	if len(out) > p.Limit {
		out = out[:p.Limit]
		last := out[len(out)-1]
		next = encodeCursor(last.CreatedAt, last.ID)
	}
	return out, next, nil
}

func (q *queries) UpdateUser(u *domain.User) error {
	org, err := q.org()
	if err != nil {
		return err
	}
	if u.OrgID != org {
		return domain.NotFound("user")
	}
	u.UpdatedAt = q.now
	u.Email, u.Username = strings.ToLower(u.Email), strings.ToLower(u.Username)
	args := userArgs(u)
	args = append(args[:20], args[21:]...) // created_at never changes
	err = q.execOne("user", `UPDATE users SET team_id = $3, email = $4, username = $5, full_name = $6, password_hash = $7,
		role = $8, permissions = $9, is_active = $10, email_verified_at = $11, mfa_enabled = $12, mfa_secret = $13,
		mfa_last_step = $14, last_login = $15, failed_logins = $16, failed_window_start = $17, locked_until = $18,
		password_changed_at = $19, invited_by = $20, updated_at = $21, deleted_at = $22
		WHERE id = $1 AND org_id = $2`, args...)
	return userConflict(err)
}

func (q *queries) CountActiveAdmins() (int, error) {
	org, err := q.org()
	if err != nil {
		return 0, err
	}
	var n int
	err = q.queryRow(`SELECT count(*) FROM users WHERE org_id = $1 AND role = 'admin' AND is_active
		AND deleted_at IS NULL AND password_hash <> ''`, org).Scan(&n)
	return n, q.s.translate(err)
}

func (q *queries) CountUsers() (int, error) {
	org, err := q.org()
	if err != nil {
		return 0, err
	}
	var n int
	err = q.queryRow(`SELECT count(*) FROM users WHERE org_id = $1 AND deleted_at IS NULL`, org).Scan(&n)
	return n, q.s.translate(err)
}

func (q *queries) RecordLoginFailure(userID string, at time.Time, window time.Duration) (int, error) {
	org, err := q.org()
	if err != nil {
		return 0, err
	}
	var n int
	err = q.queryRow(`UPDATE users SET
		failed_logins = CASE WHEN failed_window_start IS NULL OR failed_window_start < $3 THEN 1 ELSE failed_logins + 1 END,
		failed_window_start = CASE WHEN failed_window_start IS NULL OR failed_window_start < $3 THEN $4 ELSE failed_window_start END
		WHERE org_id = $1 AND id = $2 RETURNING failed_logins`, org, userID, at.UTC().Add(-window), at.UTC()).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, domain.NotFound("user")
	}
	return n, q.s.translate(err)
}

func (q *queries) LockUser(userID string, until *time.Time) error {
	org, err := q.org()
	if err != nil {
		return err
	}
	return q.execOne("user", `UPDATE users SET locked_until = $3 WHERE org_id = $1 AND id = $2`, org, userID, nullable(until))
}

func (q *queries) RecordLoginSuccess(userID string, at time.Time) error {
	org, err := q.org()
	if err != nil {
		return err
	}
	return q.execOne("user", `UPDATE users SET failed_logins = 0, failed_window_start = NULL, locked_until = NULL,
		last_login = $3 WHERE org_id = $1 AND id = $2`, org, userID, at.UTC())
}
