package sqlstore

import (
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
)

// nullTime scans a nullable timestamp into a *time.Time in UTC.
type nullTime struct{ t **time.Time }

func (n nullTime) Scan(src any) error {
	var nt sql.NullTime
	if err := nt.Scan(src); err != nil {
		return err
	}
	if !nt.Valid {
		*n.t = nil
		return nil
	}
	v := nt.Time.UTC()
	*n.t = &v
	return nil
}

// utcTime scans a non-null timestamp in UTC.
type utcTime struct{ t *time.Time }

func (u utcTime) Scan(src any) error {
	var nt sql.NullTime
	if err := nt.Scan(src); err != nil {
		return err
	}
	*u.t = nt.Time.UTC()
	return nil
}

// jsonCol scans a JSON column (jsonb on PostgreSQL, TEXT on SQLite) into v.
// NULL leaves v untouched.
type jsonCol struct{ v any }

func (j jsonCol) Scan(src any) error {
	var b []byte
	switch s := src.(type) {
	case nil:
		return nil
	case []byte:
		b = s
	case string:
		b = []byte(s)
	default:
		return fmt.Errorf("json column: unexpected %T", src)
	}
	if len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, j.v)
}

// rawJSON scans a JSON column into a json.RawMessage (nil for NULL).
type rawJSON struct{ v *json.RawMessage }

func (r rawJSON) Scan(src any) error {
	switch s := src.(type) {
	case nil:
		*r.v = nil
	case []byte:
		*r.v = append(json.RawMessage(nil), s...)
	case string:
		*r.v = json.RawMessage(s)
	default:
		return fmt.Errorf("json column: unexpected %T", src)
	}
	return nil
}

// toJSON encodes v for a JSON column.
func toJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("encode %T for a JSON column: %v", v, err)) // only our own types reach here
	}
	return string(b)
}

// rawOrNull passes raw JSON through, or SQL NULL when empty.
func rawOrNull(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// nullable returns nil for the zero time, so it is stored as NULL.
func nullable(t *time.Time) any {
	if t == nil || t.IsZero() {
		return nil
	}
	return t.UTC()
}

// nullString returns nil for "", so an optional reference is stored as NULL.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// strCol scans a nullable text column into a string ("" for NULL).
type strCol struct{ s *string }

func (c strCol) Scan(src any) error {
	var ns sql.NullString
	if err := ns.Scan(src); err != nil {
		return err
	}
	*c.s = ns.String
	return nil
}

// Keyset cursors: the (created_at, id) of the last row of a page.
func encodeCursor(t time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(t.UTC().Format(time.RFC3339Nano) + "|" + id))
}

func decodeCursor(c string) (time.Time, string, error) {
	bad := domain.Errorf(domain.ECodeBadRequest, "invalid page cursor")
	if len(c) > 200 {
		return time.Time{}, "", bad
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", bad
	}
	ts, id, ok := strings.Cut(string(b), "|")
	if !ok {
		return time.Time{}, "", bad
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return time.Time{}, "", bad
	}
	return t.UTC(), id, nil
}

// argList accumulates positional arguments and returns their placeholders.
type argList struct{ args []any }

func (a *argList) add(v any) string {
	a.args = append(a.args, v)
	return fmt.Sprintf("$%d", len(a.args))
}

// likePattern escapes LIKE metacharacters in a user search string.
func likePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}

// textColumn reads a one-column result of text values and closes rows.
func (q *queries) textColumn(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, q.s.translate(err)
		}
		out = append(out, v)
	}
	return out, q.s.translate(rows.Err())
}
