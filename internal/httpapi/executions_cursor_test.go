package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
)

// TestListExecutionsCursor: limit and cursor page the executions list (and
// the users list), each execution once; a forged cursor is refused.
func TestListExecutionsCursor(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("execcursor")
		dev := f.token(domain.RoleDeveloper)
		wf := createWorkflow(e, dev, pipeline("paged", 0))
		at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
		for i := range 5 {
			x := &domain.Execution{ID: domain.NewID(domain.PrefixExecution), TeamID: f.team.ID, WorkflowID: wf, WorkflowVersion: 1,
				Status: domain.ExecutionSucceeded, Trigger: domain.TriggerManual, CreatedAt: at.Add(time.Duration(i%2) * time.Minute)}
			if err := e.store.Write(context.Background(), domain.OrgScope(f.org.ID), func(tx domain.Tx) error { return tx.CreateExecution(x) }); err != nil {
				t.Fatal(err)
			}
		}
		seen, cursor := map[string]bool{}, ""
		for pages := 1; ; pages++ {
			var p struct {
				Executions []struct{ ID string } `json:"executions"`
				NextCursor string                `json:"next_cursor"`
			}
			e.call(http.MethodGet, "/api/v1/executions?workflow_id="+wf+"&limit=2&cursor="+url.QueryEscape(cursor), dev, nil, 200, &p)
			if len(p.Executions) > 2 {
				t.Fatalf("page %d has %d executions with limit=2", pages, len(p.Executions))
			}
			for _, x := range p.Executions {
				if seen[x.ID] {
					t.Errorf("%s listed twice", x.ID)
				}
				seen[x.ID] = true
			}
			if cursor = p.NextCursor; cursor == "" || pages > 10 {
				break
			}
		}
		if len(seen) != 5 {
			t.Errorf("the cursor walked %d of 5 executions", len(seen))
		}
		e.call(http.MethodGet, "/api/v1/executions?cursor=not-a-cursor", dev, nil, 400, nil)
		// The users list pages the same way.
		admin := f.token(domain.RoleAdmin)
		var users struct {
			Users      []struct{ ID string } `json:"users"`
			NextCursor string                `json:"next_cursor"`
		}
		e.call(http.MethodGet, "/api/v1/users?limit=1", admin, nil, 200, &users)
		if len(users.Users) != 1 || users.NextCursor == "" {
			t.Errorf("users with limit=1: %d users, next cursor %q", len(users.Users), users.NextCursor)
		}
	})
}
