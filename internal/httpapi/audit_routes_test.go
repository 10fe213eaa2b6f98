package httpapi_test

import (
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/httpapi"
	"github.com/superagent-hq/superagent/internal/store/dbtest"
	"github.com/superagent-hq/superagent/internal/store/pgadmin"
	"github.com/superagent-hq/superagent/internal/store/sqlstore"
)

type auditPage struct {
	Events     []httpapi.AuditEventOut `json:"events"`
	NextCursor string                  `json:"next_cursor"`
}

// probeRow is an audit row a test writes straight into the store.
type probeRow struct {
	action, user, resType, resID string
	success                      bool
}

// writeProbes records rows (one transaction each, in order) in org and
// returns them as stored, oldest first.
func writeProbes(t *testing.T, e *env, org string, rows []probeRow) []domain.AuditEvent {
	t.Helper()
	var before int64
	if err := e.store.Read(context.Background(), domain.OrgScope(org), func(q domain.Queries) error {
		var err error
		before, _, err = q.AuditHead(org)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		ev := domain.AuditEvent{Action: r.action, UserID: r.user, ResourceType: r.resType, ResourceID: r.resID,
			Success: r.success, Details: map[string]any{"i": i}}
		if !r.success {
			ev.ErrorMessage = "refused"
		}
		if err := e.store.Write(context.Background(), domain.OrgScope(org), func(tx domain.Tx) error {
			tx.Audit(ev)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond) // distinct timestamps for the time-range filter
	}
	var out []domain.AuditEvent
	if err := e.store.Read(context.Background(), domain.OrgScope(org), func(q domain.Queries) error {
		var err error
		out, err = q.AuditChain(org, before, 1000)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(out) != len(rows) {
		t.Fatalf("wrote %d probe rows, the chain holds %d after seq %d", len(rows), len(out), before)
	}
	return out
}

func (e *env) auditList(token, query string) auditPage {
	e.t.Helper()
	var p auditPage
	e.call(http.MethodGet, "/api/v1/audit-logs?"+query, token, nil, http.StatusOK, &p)
	return p
}

func seqsOf(evs []httpapi.AuditEventOut) []int64 {
	out := []int64{}
	for _, ev := range evs {
		out = append(out, ev.Seq)
	}
	return out
}

// want lists the seqs of rows[i] for the given indexes (newest first).
func want(rows []domain.AuditEvent, idx ...int) []int64 {
	out := []int64{}
	for _, i := range idx {
		out = append(out, rows[i].Seq)
	}
	return out
}

var probes = []probeRow{
	{"probe.created", "usr_probe_one", "widget", "wid_1", true},  // 0
	{"probe.updated", "usr_probe_two", "widget", "wid_1", true},  // 1
	{"probe.deleted", "usr_probe_one", "widget", "wid_2", false}, // 2
	{"other.thing", "usr_probe_two", "gadget", "gad_1", true},    // 3
	{"probe.created", "usr_probe_one", "widget", "wid_3", true},  // 4
}

// TestAuditLogListFilters: GET /api/v1/audit-logs filters by action (exact
// or prefix), user, resource type and id, outcome and time range, newest
// first, and pages with a cursor; another organization's rows never show.
func TestAuditLogListFilters(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		own, other := e.newOrg("auditlist"), e.newOrg("auditother")
		tok, otherTok := own.token(domain.RoleAdmin), other.token(domain.RoleAdmin)
		rows := writeProbes(t, e, own.org.ID, probes)
		foreign := writeProbes(t, e, other.org.ID, probes[:2])

		cases := []struct {
			query string
			want  []int64
		}{
			{"action=probe.created", want(rows, 4, 0)},
			{"action=probe.*", want(rows, 4, 2, 1, 0)},
			{"action=probe.", want(rows, 4, 2, 1, 0)},
			{"action=probe", []int64{}}, // exact, not a prefix
			{"user_id=usr_probe_one", want(rows, 4, 2, 0)},
			{"resource_type=widget", want(rows, 4, 2, 1, 0)},
			{"resource_type=widget&resource_id=wid_1", want(rows, 1, 0)},
			{"resource_id=gad_1", want(rows, 3)},
			{"success=false&action=probe.*", want(rows, 2)},
			{"success=true&user_id=usr_probe_two", want(rows, 3, 1)},
			{"since=" + url.QueryEscape(rows[1].CreatedAt.Format(time.RFC3339Nano)) +
				"&until=" + url.QueryEscape(rows[3].CreatedAt.Format(time.RFC3339Nano)), want(rows, 2, 1)},
			{"since=" + url.QueryEscape(rows[3].CreatedAt.Format(time.RFC3339Nano)), want(rows, 4, 3)},
			{"action=probe.*&until=" + url.QueryEscape(rows[1].CreatedAt.Format(time.RFC3339Nano)), want(rows, 0)},
		}
		for _, c := range cases {
			got := e.auditList(tok, c.query)
			if !reflect.DeepEqual(seqsOf(got.Events), c.want) {
				t.Errorf("?%s: seqs %v, want %v", c.query, seqsOf(got.Events), c.want)
			}
			if got.NextCursor != "" && len(got.Events) < 50 {
				t.Errorf("?%s: a short last page has a cursor %q", c.query, got.NextCursor)
			}
		}
		// Every failure, and only failures.
		fails := e.auditList(tok, "success=false")
		for _, ev := range fails.Events {
			if ev.Success {
				t.Errorf("success=false lists a success: %+v", ev)
			}
		}
		if !contains(seqsOf(fails.Events), rows[2].Seq) {
			t.Errorf("success=false misses the failed probe: %v", seqsOf(fails.Events))
		}
		// The row as the API shows it.
		got := e.auditList(tok, "resource_id=wid_2").Events
		if len(got) != 1 || got[0].ID != rows[2].ID || got[0].Action != "probe.deleted" || got[0].UserID != "usr_probe_one" ||
			got[0].ResourceType != "widget" || got[0].Success || got[0].ErrorMessage != "refused" || got[0].Hash != rows[2].Hash ||
			got[0].PrevHash != rows[1].Hash || !got[0].Timestamp.Equal(rows[2].CreatedAt) {
			t.Errorf("row as listed: %+v, want %+v", got, rows[2])
		}

		// Cursor paging walks the same selection without gaps or repeats.
		var paged []int64
		cursor := ""
		for page := 0; ; page++ {
			q := "action=probe.*&limit=2"
			if cursor != "" {
				q += "&cursor=" + cursor
			}
			p := e.auditList(tok, q)
			paged = append(paged, seqsOf(p.Events)...)
			if p.NextCursor == "" {
				break
			}
			if page > 5 {
				t.Fatalf("paging does not end: %v", paged)
			}
			cursor = p.NextCursor
		}
		if !reflect.DeepEqual(paged, want(rows, 4, 2, 1, 0)) {
			t.Errorf("paged by 2: %v, want %v", paged, want(rows, 4, 2, 1, 0))
		}
		for _, bad := range []string{"cursor=abc", "cursor=0", "limit=0", "limit=201", "success=maybe", "since=yesterday"} {
			res := e.do(http.MethodGet, "/api/v1/audit-logs?"+bad, tok, nil)
			res.Body.Close()
			if res.StatusCode != 400 && res.StatusCode != 422 {
				t.Errorf("?%s = %d, want 400 or 422", bad, res.StatusCode)
			}
		}

		// Isolation: neither organization sees the other's rows, even
		// under the same filters.
		ownIDs, otherIDs := map[string]bool{}, map[string]bool{}
		for _, ev := range e.auditList(tok, "limit=200").Events {
			ownIDs[ev.ID] = true
		}
		for _, ev := range e.auditList(otherTok, "limit=200").Events {
			otherIDs[ev.ID] = true
		}
		for _, r := range foreign {
			if ownIDs[r.ID] {
				t.Errorf("organization A lists B's row %s", r.ID)
			}
			if !otherIDs[r.ID] {
				t.Errorf("organization B does not list its own row %s", r.ID)
			}
		}
		for _, r := range rows {
			if otherIDs[r.ID] {
				t.Errorf("organization B lists A's row %s", r.ID)
			}
		}
		if got := e.auditList(otherTok, "resource_id=wid_1"); !reflect.DeepEqual(seqsOf(got.Events), []int64{foreign[1].Seq, foreign[0].Seq}) {
			t.Errorf("B filtering on a resource id both share: %v", seqsOf(got.Events))
		}
	})
}

func contains(xs []int64, x int64) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// TestAuditLogExport: export streams the selection as JSON Lines or CSV,
// with the content type and attachment name of the format, the same rows
// as the listing (newest first, across export pages) and nothing of
// another organization.
func TestAuditLogExport(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		own, other := e.newOrg("auditexport"), e.newOrg("exportother")
		tok := own.token(domain.RoleAdmin)
		rows := writeProbes(t, e, own.org.ID, probes)
		writeProbes(t, e, other.org.ID, probes)

		get := func(query string) (*http.Response, string) {
			res := e.do(http.MethodGet, "/api/v1/audit-logs/export?"+query, tok, nil)
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if res.StatusCode != 200 {
				t.Fatalf("export ?%s = %d: %s", query, res.StatusCode, b)
			}
			return res, string(b)
		}

		// JSON Lines (the default format).
		for _, q := range []string{"format=jsonl&action=probe.*", "action=probe.*"} {
			res, body := get(q)
			if ct := res.Header.Get("Content-Type"); ct != "application/x-ndjson" {
				t.Errorf("?%s: Content-Type %q", q, ct)
			}
			if cd := res.Header.Get("Content-Disposition"); cd != `attachment; filename="audit-log.jsonl"` {
				t.Errorf("?%s: Content-Disposition %q", q, cd)
			}
			lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
			var got []httpapi.AuditEventOut
			for _, l := range lines {
				var ev httpapi.AuditEventOut
				if err := json.Unmarshal([]byte(l), &ev); err != nil {
					t.Fatalf("?%s: line %q: %v", q, l, err)
				}
				got = append(got, ev)
			}
			listed := e.auditList(tok, "action=probe.*").Events
			if !reflect.DeepEqual(got, listed) {
				t.Errorf("?%s: exported %+v, listed %+v", q, got, listed)
			}
			if !reflect.DeepEqual(seqsOf(got), want(rows, 4, 2, 1, 0)) {
				t.Errorf("?%s: seqs %v", q, seqsOf(got))
			}
		}

		// CSV: a header, then one record per row.
		res, body := get("format=csv&action=probe.*")
		if ct := res.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
			t.Errorf("csv: Content-Type %q", ct)
		}
		if cd := res.Header.Get("Content-Disposition"); cd != `attachment; filename="audit-log.csv"` {
			t.Errorf("csv: Content-Disposition %q", cd)
		}
		recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatalf("csv: %v\n%s", err, body)
		}
		header := []string{"seq", "timestamp", "action", "success", "user_id", "api_key_id", "resource_type",
			"resource_id", "ip_address", "user_agent", "request_id", "error_message", "details", "prev_hash", "hash"}
		if len(recs) != 5 || !reflect.DeepEqual(recs[0], header) {
			t.Fatalf("csv: %d records, header %v:\n%s", len(recs), recs[0], body)
		}
		for i, idx := range []int{4, 2, 1, 0} {
			r, ev := recs[i+1], rows[idx]
			ts, err := time.Parse(time.RFC3339Nano, r[1])
			var details map[string]any
			_ = json.Unmarshal([]byte(r[12]), &details)
			if r[0] != strconv.FormatInt(ev.Seq, 10) || err != nil || !ts.Equal(ev.CreatedAt) || r[2] != ev.Action ||
				r[3] != strconv.FormatBool(ev.Success) || r[4] != ev.UserID || r[6] != ev.ResourceType || r[7] != ev.ResourceID ||
				r[11] != ev.ErrorMessage || details["i"] != float64(idx) || r[13] != ev.PrevHash || r[14] != ev.Hash {
				t.Errorf("csv record %d: %v, want row %+v", i+1, r, ev)
			}
		}

		// More rows than one export page (1000): all of them, once, in order,
		// and only this organization's.
		// (In batches: one transaction with a thousand audit rows is slow on SQLite.)
		for done := 0; done < 1005; done += 50 {
			if err := e.store.Write(context.Background(), domain.OrgScope(own.org.ID), func(tx domain.Tx) error {
				for i := done; i < min(done+50, 1005); i++ {
					tx.Audit(domain.AuditEvent{Action: "bulk.event", Success: true, Details: map[string]any{"i": i}})
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		_, body = get("format=jsonl")
		lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
		var bulk int
		last := int64(1 << 62)
		for _, l := range lines {
			var ev httpapi.AuditEventOut
			if err := json.Unmarshal([]byte(l), &ev); err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			if ev.Seq >= last {
				t.Fatalf("export out of order or repeated: seq %d after %d", ev.Seq, last)
			}
			last = ev.Seq
			if ev.Action == "bulk.event" {
				bulk++
			}
		}
		ownHead := rows[4].Seq + 1005
		if bulk != 1005 || int64(len(lines)) != ownHead || last != 1 {
			t.Errorf("full export: %d lines (%d bulk, last seq %d), want %d lines down to seq 1", len(lines), bulk, last, ownHead)
		}
	})
}

// tamper runs statements on the env's database with the owner's powers:
// on SQLite the file itself (dropping the append-only trigger), on
// PostgreSQL the owning role inside the system scope. $1 is the
// organization id.
func tamper(t *testing.T, e *env, orgID string, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	raw := e.store.DB()
	if e.kind == sqlstore.KindPostgres {
		var name string
		if err := raw.QueryRowContext(ctx, "SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		admin, err := pgadmin.Open(ctx, dbtest.AdminURL(t))
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close()
		owner, err := sql.Open("pgx", admin.DSN(dbtest.OwnerRole, name))
		if err != nil {
			t.Fatal(err)
		}
		defer owner.Close()
		raw = owner
	}
	tx, err := raw.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if e.kind == sqlstore.KindSQLite {
		if _, err := tx.ExecContext(ctx, "DROP TRIGGER IF EXISTS audit_logs_no_update"); err != nil {
			t.Fatal(err)
		}
	} else if _, err := tx.ExecContext(ctx, "SELECT set_config('app.system', 'on', true)"); err != nil {
		t.Fatal(err)
	}
	for _, s := range stmts {
		res, err := tx.ExecContext(ctx, s, orgID)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			t.Fatalf("%s changed %d rows", s, n)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

type verifyOut struct {
	OrgID         string `json:"org_id"`
	Checked       int64  `json:"checked"`
	CheckpointSeq int64  `json:"checkpoint_seq"`
	HeadSeq       int64  `json:"head_seq"`
	Valid         bool   `json:"valid"`
	Break         *struct {
		Seq    int64  `json:"seq"`
		ID     string `json:"id"`
		Reason string `json:"reason"`
	} `json:"break"`
}

// TestAuditLogVerifyRoute: GET /api/v1/audit-logs/verify reports an intact
// chain, then, after rows are changed or deleted directly in the
// database, the first broken link; another organization's chain is
// unaffected and never reported.
func TestAuditLogVerifyRoute(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		own, other := e.newOrg("auditverify"), e.newOrg("verifyother")
		tok, otherTok := own.token(domain.RoleAdmin), other.token(domain.RoleAdmin)
		rows := writeProbes(t, e, own.org.ID, probes)
		writeProbes(t, e, other.org.ID, probes[:2])

		verify := func(token string) verifyOut {
			var v verifyOut
			e.call(http.MethodGet, "/api/v1/audit-logs/verify", token, nil, http.StatusOK, &v)
			return v
		}
		head := rows[4].Seq
		if v := verify(tok); !v.Valid || v.Break != nil || v.OrgID != own.org.ID || v.HeadSeq != head || v.Checked != head || v.CheckpointSeq != 0 {
			t.Fatalf("intact chain: %+v, want valid with %d rows checked", v, head)
		}

		// A later row deleted and an earlier one edited: the edit is the
		// first broken link.
		tamper(t, e, own.org.ID, "DELETE FROM audit_logs WHERE org_id = $1 AND seq = "+strconv.FormatInt(rows[3].Seq, 10))
		v := verify(tok)
		if v.Valid || v.Break == nil || v.Break.Seq != rows[3].Seq || !strings.Contains(v.Break.Reason, "missing") {
			t.Errorf("after deleting seq %d: %+v %+v", rows[3].Seq, v, v.Break)
		}
		tamper(t, e, own.org.ID, `UPDATE audit_logs SET action = 'probe.nothing' WHERE org_id = $1 AND seq = `+strconv.FormatInt(rows[1].Seq, 10))
		v = verify(tok)
		if v.Valid || v.Break == nil || v.Break.Seq != rows[1].Seq || v.Break.ID != rows[1].ID || !strings.Contains(v.Break.Reason, "changed") {
			t.Errorf("after editing seq %d: %+v %+v", rows[1].Seq, v, v.Break)
		}
		if ov := verify(otherTok); !ov.Valid || ov.OrgID != other.org.ID {
			t.Errorf("the other organization's chain: %+v %+v", ov, ov.Break)
		}
	})
}
