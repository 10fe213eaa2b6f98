package sqlstore

import (
	"database/sql"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/superagent-hq/superagent/internal/audit"
	"github.com/superagent-hq/superagent/internal/domain"
)

// appendAudit chains and inserts the transaction's queued audit events. It
// runs as the last step before commit: the chain head of each organization
// is locked (FOR UPDATE on PostgreSQL; SQLite's single writer already
// serialises), the rows are linked to it, and the head moves. Concurrent
// writers queue on the head, so a chain never forks.
// auditRowsPerInsert bounds one INSERT's rows (17 parameters each): far
// below PostgreSQL's 65,535 parameters per statement, and SQLite binds a
// long statement's parameters slowly.
const auditRowsPerInsert = 100

func (t *tx) appendAudit() error {
	if len(t.audits) == 0 || t.s.auditOff {
		return nil
	}
	byOrg := map[string][]*domain.AuditEvent{}
	var orgs []string
	for i := range t.audits {
		ev := &t.audits[i]
		if !t.scope.IsSystem() {
			ev.OrgID = t.scope.OrgID // a tenant transaction writes only its own chain
		}
		if _, ok := byOrg[ev.OrgID]; !ok {
			orgs = append(orgs, ev.OrgID)
		}
		byOrg[ev.OrgID] = append(byOrg[ev.OrgID], ev)
	}
	sort.Strings(orgs) // one lock order for every writer: no deadlocks between chains
	for _, org := range orgs {
		// One statement creates the head when missing and locks it (the
		// no-op DO UPDATE takes the row lock), returning where the chain ends.
		head, locked := t.heads[org] // locked ahead in this transaction, still held
		seq, hash := head.seq, head.hash
		if !locked {
			if err := t.queryRow(`INSERT INTO audit_chain_heads (org_id, seq, hash) VALUES ($1, 0, $2)
			ON CONFLICT (org_id) DO UPDATE SET seq = audit_chain_heads.seq RETURNING seq, hash`, org, audit.GenesisHash).
				Scan(&seq, &hash); err != nil {
				return t.s.translate(err)
			}
		}
		evs := byOrg[org]
		for start := 0; start < len(evs); start += auditRowsPerInsert {
			end := min(start+auditRowsPerInsert, len(evs))
			var a argList
			var values []string
			for _, ev := range evs[start:end] {
				if ev.ID == "" {
					ev.ID = domain.NewID(domain.PrefixAudit)
				}
				ev.CreatedAt = t.now
				audit.Normalize(ev)
				details := audit.CanonicalDetails(ev.Details)
				audit.Link(ev, details, seq, hash)
				values = append(values, "("+strings.Join([]string{a.add(ev.ID), a.add(ev.OrgID), a.add(ev.Seq), a.add(ev.UserID),
					a.add(ev.APIKeyID), a.add(ev.Action), a.add(ev.ResourceType), a.add(ev.ResourceID), a.add(details),
					a.add(ev.IPAddress), a.add(ev.UserAgent), a.add(ev.RequestID), a.add(ev.Success), a.add(ev.ErrorMessage),
					a.add(ev.CreatedAt), a.add(ev.PrevHash), a.add(ev.Hash)}, ", ")+")")
				seq, hash = ev.Seq, ev.Hash
			}
			insert := `INSERT INTO audit_logs (id, org_id, seq, user_id, api_key_id, action, resource_type, resource_id, details,
			ip_address, user_agent, request_id, success, error_message, created_at, prev_hash, hash) VALUES ` + strings.Join(values, ", ")
			if end == len(evs) && t.d.name == KindPostgres {
				// The last rows and the head's move in one round trip, while the lock is held.
				if _, err := t.exec(`WITH rows AS (`+insert+`) UPDATE audit_chain_heads SET seq = `+a.add(seq)+`, hash = `+
					a.add(hash)+` WHERE org_id = `+a.add(org), a.args...); err != nil {
					return err
				}
				break
			}
			if _, err := t.exec(insert, a.args...); err != nil {
				return err
			}
			if end == len(evs) {
				if _, err := t.exec(`UPDATE audit_chain_heads SET seq = $2, hash = $3 WHERE org_id = $1`, org, seq, hash); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

const auditColumns = `id, org_id, seq, user_id, api_key_id, action, resource_type, resource_id, details, ip_address,
	user_agent, request_id, success, error_message, created_at, prev_hash, hash`

func scanAudit(row interface{ Scan(...any) error }) (domain.AuditEvent, error) {
	var ev domain.AuditEvent
	var details string
	err := row.Scan(&ev.ID, &ev.OrgID, &ev.Seq, &ev.UserID, &ev.APIKeyID, &ev.Action, &ev.ResourceType, &ev.ResourceID,
		&details, &ev.IPAddress, &ev.UserAgent, &ev.RequestID, &ev.Success, &ev.ErrorMessage, utcTime{&ev.CreatedAt},
		&ev.PrevHash, &ev.Hash)
	ev.Details = audit.ParseDetails(details)
	return ev, err
}

func (q *queries) ListAudit(f domain.AuditFilter) ([]domain.AuditEvent, error) {
	org, err := q.org()
	if err != nil {
		return nil, err
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = domain.DefaultPageSize
	}
	var a argList
	where := []string{"org_id = " + a.add(org)}
	if f.Action != "" {
		if prefix, ok := strings.CutSuffix(f.Action, "*"); ok {
			where = append(where, "action LIKE "+a.add(likePrefix(prefix))+` ESCAPE '\'`)
		} else if strings.HasSuffix(f.Action, ".") {
			where = append(where, "action LIKE "+a.add(likePrefix(f.Action))+` ESCAPE '\'`)
		} else {
			where = append(where, "action = "+a.add(f.Action))
		}
	}
	if f.UserID != "" {
		where = append(where, "user_id = "+a.add(f.UserID))
	}
	if f.ResourceType != "" {
		where = append(where, "resource_type = "+a.add(f.ResourceType))
	}
	if f.ResourceID != "" {
		where = append(where, "resource_id = "+a.add(f.ResourceID))
	}
	if f.Success != nil {
		where = append(where, "success = "+a.add(*f.Success))
	}
	if f.Since != nil {
		where = append(where, "created_at >= "+a.add(f.Since.UTC()))
	}
	if f.Until != nil {
		where = append(where, "created_at < "+a.add(f.Until.UTC()))
	}
	if f.BeforeSeq > 0 {
		where = append(where, "seq < "+a.add(f.BeforeSeq))
	}
	rows, err := q.query(`SELECT `+auditColumns+` FROM audit_logs WHERE `+strings.Join(where, " AND ")+
		` ORDER BY seq DESC LIMIT `+a.add(f.Limit), a.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []domain.AuditEvent
	for rows.Next() {
		ev, err := scanAudit(rows)
		if err != nil {
			return nil, q.s.translate(err)
		}
		out = append(out, ev)
	}
	return out, q.s.translate(rows.Err())
}

func likePrefix(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s) + "%"
}

// chainOrg checks that the scope may read orgID's chain.
func (q *queries) chainOrg(orgID string) error {
	if q.scope.IsSystem() || orgID == q.scope.OrgID {
		return nil
	}
	return domain.NotFound("audit chain")
}

func (q *queries) AuditChain(orgID string, afterSeq int64, limit int) ([]domain.AuditEvent, error) {
	if err := q.chainOrg(orgID); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 5000 {
		limit = 1000
	}
	rows, err := q.query(`SELECT `+auditColumns+` FROM audit_logs WHERE org_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
		orgID, afterSeq, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []domain.AuditEvent
	for rows.Next() {
		ev, err := scanAudit(rows)
		if err != nil {
			return nil, q.s.translate(err)
		}
		out = append(out, ev)
	}
	return out, q.s.translate(rows.Err())
}

func (q *queries) AuditCheckpoint(orgID string) (int64, string, error) {
	if err := q.chainOrg(orgID); err != nil {
		return 0, "", err
	}
	var seq int64
	var hash string
	err := q.queryRow(`SELECT seq, hash FROM audit_checkpoints WHERE org_id = $1`, orgID).Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", nil
	}
	return seq, hash, q.s.translate(err)
}

// AuditHead returns the recorded head of a chain (0, "" when the chain is empty).
func (q *queries) AuditHead(orgID string) (int64, string, error) {
	if err := q.chainOrg(orgID); err != nil {
		return 0, "", err
	}
	var seq int64
	var hash string
	err := q.queryRow(`SELECT seq, hash FROM audit_chain_heads WHERE org_id = $1`, orgID).Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", nil
	}
	return seq, hash, q.s.translate(err)
}

func (q *queries) AuditChainOrgs() ([]string, error) {
	if err := q.requireSystem("AuditChainOrgs"); err != nil {
		return nil, err
	}
	rows, err := q.query(`SELECT org_id FROM audit_chain_heads ORDER BY org_id`)
	if err != nil {
		return nil, err
	}
	return q.textColumn(rows)
}

func (q *queries) PruneAudit(cutoff time.Time) (int64, error) {
	if err := q.requireSystem("PruneAudit"); err != nil {
		return 0, err
	}
	if q.d.name == KindPostgres {
		// The application role cannot delete audit rows; the function,
		// owned by the migration role, can.
		var n int64
		err := q.queryRow(`SELECT audit_prune($1)`, cutoff.UTC()).Scan(&n)
		return n, q.s.translate(err)
	}
	rows, err := q.query(`SELECT org_id, max(seq) FROM audit_logs WHERE created_at < $1 GROUP BY org_id`, cutoff.UTC())
	if err != nil {
		return 0, err
	}
	type mark struct {
		org string
		seq int64
	}
	var marks []mark
	for rows.Next() {
		var m mark
		if err := rows.Scan(&m.org, &m.seq); err != nil {
			rows.Close()
			return 0, q.s.translate(err)
		}
		marks = append(marks, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, q.s.translate(err)
	}
	var removed int64
	for _, m := range marks {
		var hash string
		if err := q.queryRow(`SELECT hash FROM audit_logs WHERE org_id = $1 AND seq = $2`, m.org, m.seq).Scan(&hash); err != nil {
			return 0, q.s.translate(err)
		}
		if _, err := q.exec(`INSERT INTO audit_checkpoints (org_id, seq, hash, pruned_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (org_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, pruned_at = excluded.pruned_at`,
			m.org, m.seq, hash, q.now); err != nil {
			return 0, err
		}
		res, err := q.exec(`DELETE FROM audit_logs WHERE org_id = $1 AND seq <= $2`, m.org, m.seq)
		if err != nil {
			return 0, err
		}
		n, _ := res.RowsAffected()
		removed += n
	}
	return removed, nil
}
