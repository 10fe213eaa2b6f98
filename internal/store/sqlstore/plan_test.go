package sqlstore_test

import (
	"strings"
	"testing"

	"github.com/superagent-hq/superagent/internal/store/dbtest"
	"github.com/superagent-hq/superagent/internal/store/sqlstore"
)

// TestStepQueriesSearchByExecution: the statements every hand-off runs
// against execution_steps find the execution's rows through an index on
// the execution, not by reading all of the organization's steps (which
// SQLite's planner chose through execution_steps_usage_idx before the
// execution index existed, making each step slower the longer an
// organization had run).
func TestStepQueriesSearchByExecution(t *testing.T) {
	t.Parallel()
	s := dbtest.Open(t, dbtest.New(t, sqlstore.KindSQLite))
	for _, q := range []string{
		`SELECT id FROM execution_steps WHERE org_id = 'o' AND execution_id = 'e' ORDER BY id`,
		`SELECT node_id FROM execution_steps WHERE org_id = 'o' AND execution_id = 'e' AND owner_job = 3`,
		`UPDATE execution_steps SET status = 'queued' WHERE org_id = 'o' AND execution_id = 'e' AND node_id IN ('a', 'b')`,
		`UPDATE execution_steps SET owner_job = 0 WHERE org_id = 'o' AND execution_id = 'e' AND node_id = 'a'`,
	} {
		rows, err := s.DB().Query(`EXPLAIN QUERY PLAN ` + q)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		got := strings.Join(plan, "; ")
		if !strings.Contains(got, "execution_id=?") {
			t.Errorf("%s\nplan: %s\nwant a search on execution_id", q, got)
		}
	}
}
