package sqlstore

import (
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/superagent-hq/superagent/internal/domain"
)

const credentialColumns = `id, org_id, provider, base_url, api_key, key_hint, created_by, created_at, updated_at`

func scanCredential(row interface{ Scan(...any) error }) (*domain.ProviderCredential, error) {
	var c domain.ProviderCredential
	err := row.Scan(&c.ID, &c.OrgID, &c.Provider, &c.BaseURL, &c.StoredKey, &c.KeyHint, &c.CreatedBy,
		utcTime{&c.CreatedAt}, utcTime{&c.UpdatedAt})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

func (q *queries) PutProviderCredential(c *domain.ProviderCredential) (bool, error) {
	org, err := q.org()
	if err != nil {
		return false, err
	}
	if c.ID == "" {
		c.ID = domain.NewID(domain.PrefixCredential)
	}
	newID := c.ID
	c.OrgID, c.UpdatedAt = org, q.now
	// One statement, so two concurrent first writes cannot both insert:
	// the loser updates the winner's row.
	row := q.queryRow(`INSERT INTO provider_credentials (`+credentialColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
		ON CONFLICT (org_id, provider) DO UPDATE SET
			base_url = excluded.base_url, api_key = excluded.api_key, key_hint = excluded.key_hint,
			updated_at = excluded.updated_at
		RETURNING id, created_by, created_at`,
		c.ID, c.OrgID, c.Provider, c.BaseURL, c.StoredKey, c.KeyHint, c.CreatedBy, q.now)
	if err := row.Scan(&c.ID, &c.CreatedBy, utcTime{&c.CreatedAt}); err != nil {
		return false, q.s.translate(fmt.Errorf("put provider credential %s: %w", c.Provider, err))
	}
	return c.ID == newID, nil
}

func (q *queries) GetProviderCredential(provider string) (*domain.ProviderCredential, error) {
	org, err := q.org()
	if err != nil {
		return nil, err
	}
	c, err := scanCredential(q.queryRow(`SELECT `+credentialColumns+` FROM provider_credentials
		WHERE org_id = $1 AND provider = $2`, org, provider))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("provider credential")
	}
	if err != nil {
		return nil, q.s.translate(fmt.Errorf("get provider credential %s: %w", provider, err))
	}
	return c, nil
}

func (q *queries) ListProviderCredentials(p domain.Page) ([]domain.ProviderCredential, string, error) {
	org, err := q.org()
	if err != nil {
		return nil, "", err
	}
	p = p.Normalize()
	var a argList
	where := "org_id = " + a.add(org)
	if p.Cursor != "" {
		after, err := decodeProviderCursor(p.Cursor)
		if err != nil {
			return nil, "", err
		}
		where += " AND provider > " + a.add(after)
	}
	rows, err := q.query(`SELECT `+credentialColumns+` FROM provider_credentials WHERE `+where+
		` ORDER BY provider LIMIT `+a.add(p.Limit+1), a.args...)
	if err != nil {
		return nil, "", fmt.Errorf("list provider credentials: %w", err)
	}
	defer rows.Close()
	out := []domain.ProviderCredential{}
	for rows.Next() {
		c, err := scanCredential(rows)
		if err != nil {
			return nil, "", q.s.translate(fmt.Errorf("list provider credentials: %w", err))
		}
		out = append(out, *c)
	}
	if err := rows.Err(); err != nil {
		return nil, "", q.s.translate(err)
	}
	next := ""
	if len(out) > p.Limit {
		out = out[:p.Limit]
		next = base64.RawURLEncoding.EncodeToString([]byte(out[len(out)-1].Provider))
	}
	return out, next, nil
}

// decodeProviderCursor reads a provider-list cursor: the name of the last
// provider of the previous page (unique per organization), encoded like
// the keyset cursors of encodeCursor.
func decodeProviderCursor(c string) (string, error) {
	bad := domain.Errorf(domain.ECodeBadRequest, "invalid page cursor")
	if len(c) > 200 {
		return "", bad
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) == 0 || !utf8.Valid(b) {
		return "", bad
	}
	return string(b), nil
}

func (q *queries) DeleteProviderCredential(provider string) error {
	org, err := q.org()
	if err != nil {
		return err
	}
	return q.execOne("provider credential", `DELETE FROM provider_credentials WHERE org_id = $1 AND provider = $2`, org, provider)
}
