package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
)

// sampleDefinition is a one-agent definition whose transform returns label.
func sampleDefinition(label string) domain.Definition {
	return domain.Definition{
		Nodes: []domain.Node{{ID: "shape", Type: domain.NodeTransform,
			Transform: &domain.TransformConfig{Expression: fmt.Sprintf("%q", label)}}},
		Edges: []domain.Edge{},
	}
}

// NewWorkflow creates a workflow with one version in the given team ("" for
// the whole organization) and returns it.
func NewWorkflow(t *testing.T, s domain.Store, scope domain.Scope, author, teamID, name string, tags ...string) *domain.Workflow {
	t.Helper()
	w := &domain.Workflow{ID: domain.NewID(domain.PrefixWorkflow), TeamID: teamID, CreatedBy: author, Name: name,
		Definition: sampleDefinition(name), Tags: tags, Status: domain.WorkflowDraft}
	mustWrite(t, s, scope, func(tx domain.Tx) error {
		return tx.CreateWorkflow(w, &domain.WorkflowVersion{Name: name, Definition: w.Definition,
			Resolved: w.Definition, AuthorID: author, Message: "Created"}, 0)
	})
	return w
}

// updateWorkflow renames a workflow expecting version expected.
func updateWorkflow(s domain.Store, scope domain.Scope, id string, expected int, name string) error {
	return s.Write(ctx, scope, func(tx domain.Tx) error {
		w, err := tx.GetWorkflow(id)
		if err != nil {
			return err
		}
		w.Name, w.Definition = name, sampleDefinition(name)
		return tx.UpdateWorkflow(w, expected, &domain.WorkflowVersion{Name: name, Definition: w.Definition,
			Resolved: w.Definition, AuthorID: "usr_x", Message: "rename to " + name})
	})
}

func listWorkflowNames(t *testing.T, s domain.Store, scope domain.Scope, f domain.WorkflowFilter) []string {
	t.Helper()
	var names []string
	mustRead(t, s, scope, func(q domain.Queries) error {
		ws, _, err := q.ListWorkflows(f)
		for _, w := range ws {
			names = append(names, w.Name)
		}
		return err
	})
	return names
}

func sameNames(got []string, want ...string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

func testWorkflows(t *testing.T, s domain.Store) {
	f := NewFixture(t, s, "flows")
	scope := domain.OrgScope(f.Org.ID)
	w := NewWorkflow(t, s, scope, f.Admin.ID, f.Team.ID, "Ticket triage", "support", "llm")
	mustRead(t, s, scope, func(q domain.Queries) error {
		got, err := q.GetWorkflow(w.ID)
		if err != nil {
			return err
		}
		if got.Version != 1 || got.Name != "Ticket triage" || got.TeamID != f.Team.ID || got.Status != domain.WorkflowDraft ||
			len(got.Definition.Nodes) != 1 || got.Definition.Nodes[0].Transform.Expression != `"Ticket triage"` ||
			len(got.Tags) != 2 || len(got.Pins) != 0 || got.ArchivedAt != nil {
			t.Errorf("workflow = %+v", got)
		}
		v, err := q.GetWorkflowVersion(w.ID, 1)
		if err != nil {
			return err
		}
		if v.Version != 1 || v.ParentVersion != 0 || v.AuthorID != f.Admin.ID || v.Message != "Created" ||
			v.Resolved.Nodes[0].ID != "shape" || !sameInstant(v.CreatedAt, got.CreatedAt) {
			t.Errorf("version 1 = %+v", v)
		}
		return nil
	})

	// An update appends version 2, derived from 1; a second update still
	// expecting version 1 is stale.
	if err := updateWorkflow(s, scope, w.ID, 1, "Ticket triage v2"); err != nil {
		t.Fatal(err)
	}
	err := updateWorkflow(s, scope, w.ID, 1, "lost update")
	wantCode(t, err, domain.ECodeConflict)
	mustRead(t, s, scope, func(q domain.Queries) error {
		got, err := q.GetWorkflow(w.ID)
		if err != nil {
			return err
		}
		v, err := q.GetWorkflowVersion(w.ID, 2)
		if err != nil {
			return err
		}
		if got.Version != 2 || got.Name != "Ticket triage v2" || v.ParentVersion != 1 || v.Message != "rename to Ticket triage v2" {
			t.Errorf("after update: workflow %+v, version %+v", got, v)
		}
		_, err = q.GetWorkflowVersion(w.ID, 3)
		wantCode(t, err, domain.ECodeNotFound)
		return nil
	})

	// Archiving keeps the workflow readable, hides it from default lists
	// and freezes it; archiving again changes nothing.
	var archived bool
	mustWrite(t, s, scope, func(tx domain.Tx) (err error) {
		archived, err = tx.ArchiveWorkflow(w.ID, 2)
		return err
	})
	if !archived {
		t.Fatal("ArchiveWorkflow reported no change")
	}
	mustWrite(t, s, scope, func(tx domain.Tx) (err error) {
		archived, err = tx.ArchiveWorkflow(w.ID, 0)
		return err
	})
	if archived {
		t.Error("archiving twice reported a change")
	}
	wantCode(t, updateWorkflow(s, scope, w.ID, 2, "after archive"), domain.ECodeConflict)
	mustRead(t, s, scope, func(q domain.Queries) error {
		got, err := q.GetWorkflow(w.ID)
		if err != nil {
			return err
		}
		if got.Status != domain.WorkflowArchived || got.ArchivedAt == nil || got.Version != 2 {
			t.Errorf("archived workflow = %+v", got)
		}
		_, _, err = q.RunnableVersion(w.ID, "", 0)
		wantCode(t, err, domain.ECodeConflict)
		return nil
	})
	if names := listWorkflowNames(t, s, scope, domain.WorkflowFilter{}); len(names) != 0 {
		t.Errorf("default list shows archived workflows: %v", names)
	}
	if names := listWorkflowNames(t, s, scope, domain.WorkflowFilter{Status: domain.WorkflowArchived}); !sameNames(names, "Ticket triage v2") {
		t.Errorf("archived list = %v", names)
	}
}

func testWorkflowConcurrentUpdates(t *testing.T, s domain.Store) {
	f := NewFixture(t, s, "race")
	scope := domain.OrgScope(f.Org.ID)
	w := NewWorkflow(t, s, scope, f.Admin.ID, "", "Racy")
	const writers = 6
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = updateWorkflow(s, scope, w.ID, 1, fmt.Sprintf("writer %d", i))
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !domain.IsCode(err, domain.ECodeConflict):
			t.Errorf("concurrent update: %v, want success or conflict", err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d writers expecting version 1 won, want exactly 1", won, writers)
	}
	mustRead(t, s, scope, func(q domain.Queries) error {
		vs, _, err := q.ListWorkflowVersions(w.ID, domain.Page{})
		if err != nil {
			return err
		}
		if len(vs) != 2 || vs[0].Version != 2 || vs[1].Version != 1 {
			t.Errorf("versions after the race = %+v", vs)
		}
		return nil
	})
}

func testWorkflowFiltersAndPaging(t *testing.T, s domain.Store) {
	f := NewFixture(t, s, "filters")
	scope := domain.OrgScope(f.Org.ID)
	other := &domain.Team{ID: domain.NewID(domain.PrefixTeam), Name: "Other"}
	mustWrite(t, s, scope, func(tx domain.Tx) error { return tx.CreateTeam(other) })
	a := NewWorkflow(t, s, scope, f.Admin.ID, f.Team.ID, "Alpha report", "finance")
	NewWorkflow(t, s, scope, f.Admin.ID, other.ID, "Beta digest", "support", "finance")
	c := NewWorkflow(t, s, scope, f.Admin.ID, "", "Gamma REPORT")
	mustWrite(t, s, scope, func(tx domain.Tx) error {
		w, err := tx.GetWorkflow(c.ID)
		if err != nil {
			return err
		}
		w.Category, w.Status = "reports", domain.WorkflowActive
		if err := tx.UpdateWorkflow(w, 1, &domain.WorkflowVersion{Name: w.Name, Definition: w.Definition, Resolved: w.Definition}); err != nil {
			return err
		}
		if _, err := tx.PinWorkflowVersion(a.ID, domain.EnvProd, 1); err != nil {
			return err
		}
		return nil
	})
	for _, tc := range []struct {
		name string
		f    domain.WorkflowFilter
		want []string
	}{
		{"all", domain.WorkflowFilter{}, []string{"Alpha report", "Beta digest", "Gamma REPORT"}},
		{"tag", domain.WorkflowFilter{Tag: "finance"}, []string{"Alpha report", "Beta digest"}},
		{"tag and team", domain.WorkflowFilter{Tag: "finance", TeamID: other.ID}, []string{"Beta digest"}},
		{"category", domain.WorkflowFilter{Category: "reports"}, []string{"Gamma REPORT"}},
		{"status", domain.WorkflowFilter{Status: domain.WorkflowActive}, []string{"Gamma REPORT"}},
		{"pinned to prod", domain.WorkflowFilter{Environment: domain.EnvProd}, []string{"Alpha report"}},
		{"pinned to dev", domain.WorkflowFilter{Environment: domain.EnvDev}, nil},
		{"search ignores case", domain.WorkflowFilter{Search: "report"}, []string{"Alpha report", "Gamma REPORT"}},
		{"search escapes wildcards", domain.WorkflowFilter{Search: "%"}, nil},
	} {
		if got := listWorkflowNames(t, s, scope, tc.f); !sameNames(got, tc.want...) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	err := s.Read(ctx, scope, func(q domain.Queries) error {
		_, _, err := q.ListWorkflows(domain.WorkflowFilter{Environment: "qa"})
		return err
	})
	wantCode(t, err, domain.ECodeInvalid)

	// Keyset paging visits every workflow once.
	var seen []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatal("paging does not end")
		}
		var next string
		mustRead(t, s, scope, func(q domain.Queries) error {
			ws, n, err := q.ListWorkflows(domain.WorkflowFilter{Page: domain.Page{Limit: 2, Cursor: cursor}})
			for _, w := range ws {
				seen = append(seen, w.Name)
			}
			next = n
			return err
		})
		if next == "" {
			break
		}
		cursor = next
	}
	if !sameNames(seen, "Alpha report", "Beta digest", "Gamma REPORT") {
		t.Errorf("paged = %v", seen)
	}
	err = s.Read(ctx, scope, func(q domain.Queries) error {
		_, _, err := q.ListWorkflows(domain.WorkflowFilter{Page: domain.Page{Cursor: "not a cursor"}})
		return err
	})
	wantCode(t, err, domain.ECodeBadRequest)
}

func testWorkflowVersionsAndPins(t *testing.T, s domain.Store) {
	f := NewFixture(t, s, "pins")
	scope := domain.OrgScope(f.Org.ID)
	w := NewWorkflow(t, s, scope, f.Admin.ID, "", "v1")
	for v := 1; v < 5; v++ {
		if err := updateWorkflow(s, scope, w.ID, v, fmt.Sprintf("v%d", v+1)); err != nil {
			t.Fatal(err)
		}
	}
	// Versions page newest first.
	var numbers []int
	cursor := ""
	for {
		var next string
		mustRead(t, s, scope, func(q domain.Queries) error {
			vs, n, err := q.ListWorkflowVersions(w.ID, domain.Page{Limit: 2, Cursor: cursor})
			for _, v := range vs {
				numbers = append(numbers, v.Version)
				if len(v.Definition.Nodes) != 0 {
					t.Errorf("version list loads definitions")
				}
			}
			next = n
			return err
		})
		if next == "" {
			break
		}
		cursor = next
	}
	if fmt.Sprint(numbers) != "[5 4 3 2 1]" {
		t.Errorf("version pages = %v", numbers)
	}

	var prev int
	mustWrite(t, s, scope, func(tx domain.Tx) (err error) {
		if prev, err = tx.PinWorkflowVersion(w.ID, domain.EnvStaging, 2); err != nil {
			return err
		}
		if prev != 0 {
			t.Errorf("first pin replaced %d", prev)
		}
		prev, err = tx.PinWorkflowVersion(w.ID, domain.EnvStaging, 3)
		return err
	})
	if prev != 2 {
		t.Errorf("re-pinning reported previous pin %d, want 2", prev)
	}
	err := s.Write(ctx, scope, func(tx domain.Tx) error {
		_, err := tx.PinWorkflowVersion(w.ID, domain.EnvProd, 9)
		return err
	})
	wantCode(t, err, domain.ECodeNotFound)

	mustRead(t, s, scope, func(q domain.Queries) error {
		for _, tc := range []struct {
			env     domain.Environment
			version int
			want    int
			code    domain.ErrorCode
		}{
			{"", 0, 5, ""},
			{domain.EnvStaging, 0, 3, ""},
			{"", 2, 2, ""},
			{domain.EnvStaging, 4, 4, ""}, // an explicit version wins
			{domain.EnvProd, 0, 0, domain.ECodeConflict},
			{"", 7, 0, domain.ECodeNotFound},
			{"qa", 0, 0, domain.ECodeInvalid},
		} {
			_, v, err := q.RunnableVersion(w.ID, tc.env, tc.version)
			if tc.code != "" {
				if !domain.IsCode(err, tc.code) {
					t.Errorf("RunnableVersion(%q, %d) = %v, want %s", tc.env, tc.version, err, tc.code)
				}
				continue
			}
			if err != nil {
				return err
			}
			if v.Version != tc.want || v.Name != fmt.Sprintf("v%d", tc.want) || len(v.Resolved.Nodes) != 1 {
				t.Errorf("RunnableVersion(%q, %d) = version %d %q, want %d", tc.env, tc.version, v.Version, v.Name, tc.want)
			}
		}
		// The head is the workflow without its definition.
		head, err := q.GetWorkflowHead(w.ID)
		if err != nil {
			return err
		}
		if head.ID != w.ID || head.Version != 5 || head.Pins[domain.EnvStaging] != 3 || len(head.Definition.Nodes) != 0 {
			t.Errorf("GetWorkflowHead = %+v", head)
		}
		if n, err := head.RunnableVersion(domain.EnvStaging, 0); err != nil || n != 3 {
			t.Errorf("the head's runnable version for staging = %d, %v", n, err)
		}
		got, err := q.GetWorkflow(w.ID)
		if err != nil {
			return err
		}
		if len(got.Pins) != 1 || got.Pins[domain.EnvStaging] != 3 {
			t.Errorf("pins = %v", got.Pins)
		}
		return nil
	})
}

func testWorkflowQuota(t *testing.T, s domain.Store) {
	f := NewFixture(t, s, "quota")
	scope := domain.OrgScope(f.Org.ID)
	create := func(name string, limit int) error {
		return s.Write(ctx, scope, func(tx domain.Tx) error {
			w := &domain.Workflow{ID: domain.NewID(domain.PrefixWorkflow), CreatedBy: f.Admin.ID, Name: name, Definition: sampleDefinition(name)}
			return tx.CreateWorkflow(w, &domain.WorkflowVersion{Name: name, Definition: w.Definition, Resolved: w.Definition}, limit)
		})
	}
	for i := range 2 {
		if err := create(fmt.Sprint(i), 2); err != nil {
			t.Fatal(err)
		}
	}
	err := create("third", 2)
	wantCode(t, err, domain.ECodeLimitExceeded)
	if de := asError(err); de == nil || de.Limit != "max_workflows" || de.LimitValue != 2 {
		t.Errorf("limit error = %#v", err)
	}
	// Archived workflows do not count.
	ws := listWorkflowNames(t, s, scope, domain.WorkflowFilter{})
	if len(ws) != 2 {
		t.Fatalf("workflows = %v", ws)
	}
	mustWrite(t, s, scope, func(tx domain.Tx) error {
		list, _, err := tx.ListWorkflows(domain.WorkflowFilter{})
		if err != nil {
			return err
		}
		_, err = tx.ArchiveWorkflow(list[0].ID, 0)
		return err
	})
	if err := create("after archive", 2); err != nil {
		t.Fatalf("creating after archiving one: %v", err)
	}

	// Concurrent creations cannot overshoot the limit.
	g := NewFixture(t, s, "quotarace")
	gscope := domain.OrgScope(g.Org.ID)
	var wg sync.WaitGroup
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Write(ctx, gscope, func(tx domain.Tx) error {
				w := &domain.Workflow{ID: domain.NewID(domain.PrefixWorkflow), CreatedBy: g.Admin.ID, Name: fmt.Sprint(i), Definition: sampleDefinition("x")}
				return tx.CreateWorkflow(w, &domain.WorkflowVersion{Name: w.Name, Definition: w.Definition, Resolved: w.Definition}, 3)
			})
			if err != nil && !domain.IsCode(err, domain.ECodeLimitExceeded) {
				t.Errorf("concurrent create: %v", err)
			}
		}()
	}
	wg.Wait()
	if n := len(listWorkflowNames(t, s, gscope, domain.WorkflowFilter{})); n != 3 {
		t.Errorf("concurrent creations left %d workflows, limit 3", n)
	}
}

func testWorkflowTeamVisibility(t *testing.T, s domain.Store) {
	f := NewFixture(t, s, "vis")
	admin := domain.OrgScope(f.Org.ID)
	other := &domain.Team{ID: domain.NewID(domain.PrefixTeam), Name: "Other"}
	mustWrite(t, s, admin, func(tx domain.Tx) error { return tx.CreateTeam(other) })
	mine := NewWorkflow(t, s, admin, f.Admin.ID, f.Team.ID, "mine")
	orgWide := NewWorkflow(t, s, admin, f.Admin.ID, "", "org-wide")
	theirs := NewWorkflow(t, s, admin, f.Admin.ID, other.ID, "theirs")
	member := domain.Scope{OrgID: f.Org.ID, TeamID: f.Team.ID}
	teamless := domain.Scope{OrgID: f.Org.ID}

	for _, tc := range []struct {
		name  string
		scope domain.Scope
		want  []string
	}{
		{"admin", admin, []string{"mine", "org-wide", "theirs"}},
		{"team member", member, []string{"mine", "org-wide"}},
		{"member of no team", teamless, []string{"org-wide"}},
	} {
		if got := listWorkflowNames(t, s, tc.scope, domain.WorkflowFilter{}); !sameNames(got, tc.want...) {
			t.Errorf("%s sees %v, want %v", tc.name, got, tc.want)
		}
	}
	mustRead(t, s, member, func(q domain.Queries) error {
		for _, id := range []string{mine.ID, orgWide.ID} {
			if _, err := q.GetWorkflow(id); err != nil {
				t.Errorf("member cannot get %s: %v", id, err)
			}
		}
		_, err := q.GetWorkflow(theirs.ID)
		wantCode(t, err, domain.ECodeNotFound)
		_, err = q.GetWorkflowVersion(theirs.ID, 1)
		wantCode(t, err, domain.ECodeNotFound)
		_, _, err = q.ListWorkflowVersions(theirs.ID, domain.Page{})
		wantCode(t, err, domain.ECodeNotFound)
		return nil
	})
	err := s.Write(ctx, member, func(tx domain.Tx) error {
		w := *theirs
		return tx.UpdateWorkflow(&w, 1, &domain.WorkflowVersion{Name: "x", Definition: w.Definition, Resolved: w.Definition})
	})
	wantCode(t, err, domain.ECodeNotFound)
	err = s.Write(ctx, member, func(tx domain.Tx) error { _, err := tx.ArchiveWorkflow(theirs.ID, 0); return err })
	wantCode(t, err, domain.ECodeNotFound)
	err = s.Write(ctx, member, func(tx domain.Tx) error { _, err := tx.PinWorkflowVersion(theirs.ID, domain.EnvDev, 1); return err })
	wantCode(t, err, domain.ECodeNotFound)

	// Moving a workflow to another team moves its schedules with it.
	sc := &domain.Schedule{ID: domain.NewID(domain.PrefixSchedule), TeamID: mine.TeamID, WorkflowID: mine.ID,
		CronExpression: "@daily", Timezone: "UTC", CreatedBy: f.Admin.ID}
	mustWrite(t, s, admin, func(tx domain.Tx) error {
		if err := tx.CreateSchedule(sc); err != nil {
			return err
		}
		w, err := tx.GetWorkflow(mine.ID)
		if err != nil {
			return err
		}
		w.TeamID = other.ID
		return tx.UpdateWorkflow(w, 1, &domain.WorkflowVersion{Name: w.Name, Definition: w.Definition, Resolved: w.Definition})
	})
	mustRead(t, s, member, func(q domain.Queries) error {
		_, err := q.GetSchedule(sc.ID)
		wantCode(t, err, domain.ECodeNotFound)
		return nil
	})
	mustRead(t, s, domain.Scope{OrgID: f.Org.ID, TeamID: other.ID}, func(q domain.Queries) error {
		got, err := q.GetSchedule(sc.ID)
		if err != nil {
			return err
		}
		if got.TeamID != other.ID {
			t.Errorf("schedule team %q after the move, want %q", got.TeamID, other.ID)
		}
		return nil
	})
}

func testWorkflowStats(t *testing.T, s domain.Store) {
	f := NewFixture(t, s, "stats")
	scope := domain.OrgScope(f.Org.ID)
	busy := NewWorkflow(t, s, scope, f.Admin.ID, "", "busy")
	idle := NewWorkflow(t, s, scope, f.Admin.ID, "", "idle")
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	runs := []struct {
		status   domain.ExecutionStatus
		duration int64 // 0: still running, no duration
	}{
		{domain.ExecutionSucceeded, 100},
		{domain.ExecutionSucceeded, 300},
		{domain.ExecutionFailed, 201},
		{domain.ExecutionCancelled, 50},
		{domain.ExecutionRunning, 0},
	}
	mustWrite(t, s, scope, func(tx domain.Tx) error {
		for i, r := range runs {
			created := base.Add(time.Duration(i) * time.Minute)
			e := &domain.Execution{ID: domain.NewID(domain.PrefixExecution), WorkflowID: busy.ID, WorkflowVersion: 1,
				Status: r.status, Trigger: domain.TriggerManual, TriggeredBy: f.Admin.ID, CreatedAt: created,
				Input: json.RawMessage(`{"n":1}`), StartedAt: &created}
			if r.duration > 0 {
				done := created.Add(time.Duration(r.duration) * time.Millisecond)
				e.CompletedAt, e.DurationMS = &done, ptr(r.duration)
			}
			if err := tx.CreateExecution(e); err != nil {
				return err
			}
		}
		return nil
	})
	mustRead(t, s, scope, func(q domain.Queries) error {
		stats, err := q.WorkflowStats([]string{busy.ID, idle.ID})
		if err != nil {
			return err
		}
		b := stats[busy.ID]
		if b.Total != 5 || b.Succeeded != 2 || b.Failed != 1 || b.AverageDurationMS != 163 || b.LastRunAt == nil ||
			!sameInstant(*b.LastRunAt, base.Add(4*time.Minute)) {
			t.Errorf("busy stats = %+v (last run %v)", b, b.LastRunAt)
		}
		if i, ok := stats[idle.ID]; !ok || i.Total != 0 || i.LastRunAt != nil {
			t.Errorf("idle stats = %+v, %v", i, ok)
		}
		return nil
	})
	// Archiving leaves executions readable.
	var exeID string
	mustWrite(t, s, scope, func(tx domain.Tx) error {
		e := &domain.Execution{ID: domain.NewID(domain.PrefixExecution), WorkflowID: idle.ID, WorkflowVersion: 1,
			Status: domain.ExecutionPending, Trigger: domain.TriggerManual}
		exeID = e.ID
		if err := tx.CreateExecution(e); err != nil {
			return err
		}
		_, err := tx.ArchiveWorkflow(idle.ID, 0)
		return err
	})
	mustRead(t, s, scope, func(q domain.Queries) error {
		e, err := q.GetExecution(exeID)
		if err != nil {
			return err
		}
		if e.WorkflowID != idle.ID || e.Status != domain.ExecutionPending || string(e.Input) != "null" || e.DurationMS != nil {
			t.Errorf("execution = %+v", e)
		}
		return nil
	})
}

func testAgentsLibrary(t *testing.T, s domain.Store) {
	f := NewFixture(t, s, "agents")
	admin := domain.OrgScope(f.Org.ID)
	other := &domain.Team{ID: domain.NewID(domain.PrefixTeam), Name: "Other"}
	mustWrite(t, s, admin, func(tx domain.Tx) error { return tx.CreateTeam(other) })
	newAgent := func(name, team string, typ domain.NodeType) *domain.LibraryAgent {
		a := &domain.LibraryAgent{ID: domain.NewID(domain.PrefixAgent), TeamID: team, Name: name, CreatedBy: f.Admin.ID,
			Node: domain.Node{ID: "ignored", AgentID: "agt_ignored", Type: typ, Name: name}}
		if typ == domain.NodeLLM {
			a.Node.LLM = &domain.LLMConfig{Model: "mock:echo", Prompt: "Summarize {{.input.text}}"}
		} else {
			a.Node.Transform = &domain.TransformConfig{Expression: "input"}
		}
		mustWrite(t, s, admin, func(tx domain.Tx) error { return tx.CreateAgent(a, 3) })
		return a
	}
	sum := newAgent("Summarizer", f.Team.ID, domain.NodeLLM)
	newAgent("Passthrough", "", domain.NodeTransform)
	theirs := newAgent("Their summarizer", other.ID, domain.NodeLLM)

	err := s.Write(ctx, admin, func(tx domain.Tx) error {
		return tx.CreateAgent(&domain.LibraryAgent{ID: domain.NewID(domain.PrefixAgent), Name: "fourth", CreatedBy: f.Admin.ID,
			Node: domain.Node{Type: domain.NodeTransform, Transform: &domain.TransformConfig{Expression: "1"}}}, 3)
	})
	wantCode(t, err, domain.ECodeLimitExceeded)
	if de := asError(err); de == nil || de.Limit != "max_agents" || de.LimitValue != 3 {
		t.Errorf("limit error = %#v", err)
	}

	member := domain.Scope{OrgID: f.Org.ID, TeamID: f.Team.ID}
	list := func(scope domain.Scope, af domain.AgentFilter) []string {
		var names []string
		mustRead(t, s, scope, func(q domain.Queries) error {
			as, _, err := q.ListAgents(af)
			for _, a := range as {
				names = append(names, a.Name)
			}
			return err
		})
		return names
	}
	for _, tc := range []struct {
		name  string
		scope domain.Scope
		f     domain.AgentFilter
		want  []string
	}{
		{"admin", admin, domain.AgentFilter{}, []string{"Summarizer", "Passthrough", "Their summarizer"}},
		{"member", member, domain.AgentFilter{}, []string{"Summarizer", "Passthrough"}},
		{"type", admin, domain.AgentFilter{Type: domain.NodeLLM}, []string{"Summarizer", "Their summarizer"}},
		{"search", admin, domain.AgentFilter{Search: "THEIR"}, []string{"Their summarizer"}},
		{"team", admin, domain.AgentFilter{TeamID: f.Team.ID}, []string{"Summarizer"}},
		{"paged", admin, domain.AgentFilter{Page: domain.Page{Limit: 1}}, []string{"Summarizer"}},
	} {
		if got := list(tc.scope, tc.f); !sameNames(got, tc.want...) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}

	mustRead(t, s, member, func(q domain.Queries) error {
		a, err := q.GetAgent(sum.ID)
		if err != nil {
			return err
		}
		if a.Node.ID != "" || a.Node.AgentID != "" || a.Node.Type != domain.NodeLLM || a.Node.LLM.Prompt != "Summarize {{.input.text}}" {
			t.Errorf("stored node = %+v", a.Node)
		}
		_, err = q.GetAgent(theirs.ID)
		wantCode(t, err, domain.ECodeNotFound)
		return nil
	})
	mustWrite(t, s, member, func(tx domain.Tx) error {
		a, err := tx.GetAgent(sum.ID)
		if err != nil {
			return err
		}
		a.Name, a.Node.LLM.Prompt = "Summarizer 2", "Shorter: {{.input.text}}"
		return tx.UpdateAgent(a)
	})
	wantCode(t, s.Write(ctx, member, func(tx domain.Tx) error {
		a := *theirs
		a.Name = "hijacked"
		return tx.UpdateAgent(&a)
	}), domain.ECodeNotFound)
	wantCode(t, s.Write(ctx, member, func(tx domain.Tx) error { return tx.DeleteAgent(theirs.ID) }), domain.ECodeNotFound)
	mustWrite(t, s, member, func(tx domain.Tx) error { return tx.DeleteAgent(sum.ID) })
	mustRead(t, s, admin, func(q domain.Queries) error {
		_, err := q.GetAgent(sum.ID)
		wantCode(t, err, domain.ECodeNotFound)
		a, err := q.GetAgent(theirs.ID)
		if err != nil {
			return err
		}
		if a.Name != "Their summarizer" {
			t.Errorf("another team's agent changed: %+v", a)
		}
		return nil
	})
}

func testSchedules(t *testing.T, s domain.Store) {
	f := NewFixture(t, s, "sched")
	scope := domain.OrgScope(f.Org.ID)
	w := NewWorkflow(t, s, scope, f.Admin.ID, f.Team.ID, "nightly")
	due := time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC)
	later := due.Add(24 * time.Hour)
	newSchedule := func(scope domain.Scope, wf *domain.Workflow, active bool, next time.Time) *domain.Schedule {
		sc := &domain.Schedule{ID: domain.NewID(domain.PrefixSchedule), TeamID: wf.TeamID, WorkflowID: wf.ID, Name: "nightly",
			CronExpression: "0 2 * * *", Timezone: "America/New_York", Input: json.RawMessage(`{"full":true}`),
			Environment: domain.EnvProd, Active: active, CreatedBy: f.Admin.ID}
		if active {
			sc.NextRunAt = &next
		}
		mustWrite(t, s, scope, func(tx domain.Tx) error { return tx.CreateSchedule(sc) })
		return sc
	}
	sc := newSchedule(scope, w, true, due)
	newSchedule(scope, w, false, due)
	future := newSchedule(scope, w, true, later)

	mustRead(t, s, scope, func(q domain.Queries) error {
		got, err := q.GetSchedule(sc.ID)
		if err != nil {
			return err
		}
		if got.CronExpression != "0 2 * * *" || got.Timezone != "America/New_York" || string(got.Input) == "" ||
			got.Environment != domain.EnvProd || !got.Active || got.NextRunAt == nil || !got.NextRunAt.Equal(due) ||
			got.LastRunAt != nil || got.TeamID != f.Team.ID {
			t.Errorf("schedule = %+v", got)
		}
		active := true
		list, _, err := q.ListSchedules(domain.ScheduleFilter{WorkflowID: w.ID, Active: &active})
		if err != nil {
			return err
		}
		if len(list) != 2 {
			t.Errorf("active schedules = %d, want 2", len(list))
		}
		return nil
	})

	// Only the system scope scans across organizations.
	err := s.Read(ctx, scope, func(q domain.Queries) error { _, err := q.DueSchedules(due, 10); return err })
	if err == nil {
		t.Error("DueSchedules ran in a tenant scope")
	}
	g := NewFixture(t, s, "sched2")
	gw := NewWorkflow(t, s, domain.OrgScope(g.Org.ID), g.Admin.ID, "", "other org")
	gs := newSchedule(domain.OrgScope(g.Org.ID), gw, true, due.Add(-time.Minute))
	var dueList []domain.Schedule
	mustRead(t, s, domain.SystemScope(domain.SystemScheduler), func(q domain.Queries) (err error) {
		dueList, err = q.DueSchedules(due, 10)
		return err
	})
	if len(dueList) != 2 || dueList[0].ID != gs.ID || dueList[1].ID != sc.ID {
		t.Fatalf("due = %+v, want the other org's then ours, earliest first", dueList)
	}

	// Claiming a due time succeeds once, however many replicas race for it.
	const replicas = 5
	wins := make([]bool, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Write(ctx, domain.OrgScope(dueList[1].OrgID), func(tx domain.Tx) error {
				exe := &domain.Execution{ID: domain.NewID(domain.PrefixExecution), WorkflowID: w.ID, WorkflowVersion: 1,
					Status: domain.ExecutionPending, Trigger: domain.TriggerSchedule, ScheduleID: sc.ID}
				ok, err := tx.ClaimSchedule(sc.ID, *dueList[1].NextRunAt, later, due, exe.ID, "")
				if err != nil || !ok {
					return err
				}
				wins[i] = true
				return tx.CreateExecution(exe)
			})
			if err != nil {
				t.Errorf("claim: %v", err)
			}
		}()
	}
	wg.Wait()
	won := 0
	for _, w := range wins {
		if w {
			won++
		}
	}
	if won != 1 {
		t.Errorf("%d replicas claimed the same due time, want 1", won)
	}
	mustRead(t, s, scope, func(q domain.Queries) error {
		got, err := q.GetSchedule(sc.ID)
		if err != nil {
			return err
		}
		if got.NextRunAt == nil || !got.NextRunAt.Equal(later) || got.LastRunAt == nil || !got.LastRunAt.Equal(due) || got.LastExecutionID == "" {
			t.Errorf("after claim = %+v", got)
		}
		if _, err := q.GetExecution(got.LastExecutionID); err != nil {
			t.Errorf("the claimed run's execution: %v", err)
		}
		return nil
	})

	// A due time that starts nothing records why; the next run that starts
	// an execution clears it.
	lastError := func() string {
		var msg string
		mustRead(t, s, scope, func(q domain.Queries) error {
			got, err := q.GetSchedule(sc.ID)
			msg = got.LastError
			return err
		})
		return msg
	}
	mustWrite(t, s, scope, func(tx domain.Tx) error {
		ok, err := tx.ClaimSchedule(sc.ID, later, later.Add(time.Hour), later, "", "the monthly limit is reached")
		if err == nil && !ok {
			err = errors.New("failed firing not claimed")
		}
		return err
	})
	if msg := lastError(); msg != "the monthly limit is reached" {
		t.Errorf("last error after a failed firing = %q", msg)
	}
	mustWrite(t, s, scope, func(tx domain.Tx) error {
		ok, err := tx.ClaimSchedule(sc.ID, later.Add(time.Hour), later.Add(2*time.Hour), later.Add(time.Hour), "exe_next", "")
		if err == nil && !ok {
			err = errors.New("run not claimed")
		}
		return err
	})
	if msg := lastError(); msg != "" {
		t.Errorf("last error after a run = %q, want none", msg)
	}

	// Updating, deactivating and archiving stop a schedule from being due.
	mustWrite(t, s, scope, func(tx domain.Tx) error {
		got, err := tx.GetSchedule(future.ID)
		if err != nil {
			return err
		}
		got.CronExpression, got.Timezone, got.Active, got.NextRunAt = "@hourly", "Europe/Berlin", false, nil
		return tx.UpdateSchedule(got)
	})
	mustWrite(t, s, scope, func(tx domain.Tx) error { _, err := tx.ArchiveWorkflow(w.ID, 0); return err })
	mustRead(t, s, domain.SystemScope(domain.SystemScheduler), func(q domain.Queries) error {
		list, err := q.DueSchedules(later.Add(time.Hour), 10)
		if err != nil {
			return err
		}
		if len(list) != 1 || list[0].ID != gs.ID {
			t.Errorf("due after archiving = %+v, want only the other org's", list)
		}
		return nil
	})
	mustRead(t, s, scope, func(q domain.Queries) error {
		got, err := q.GetSchedule(future.ID)
		if err != nil {
			return err
		}
		if got.CronExpression != "@hourly" || got.Timezone != "Europe/Berlin" || got.Active || got.NextRunAt != nil {
			t.Errorf("updated schedule = %+v", got)
		}
		return nil
	})

	// An inactive organization's schedules are not due.
	mustWrite(t, s, domain.OrgScope(g.Org.ID), func(tx domain.Tx) error {
		o, err := tx.GetOrganization(g.Org.ID)
		if err != nil {
			return err
		}
		o.IsActive = false
		return tx.UpdateOrganization(o)
	})
	mustRead(t, s, domain.SystemScope(domain.SystemScheduler), func(q domain.Queries) error {
		list, err := q.DueSchedules(later.Add(time.Hour), 10)
		if err != nil {
			return err
		}
		if len(list) != 0 {
			t.Errorf("due with the organization inactive = %+v", list)
		}
		return nil
	})

	// Team visibility, and deletion.
	member := domain.Scope{OrgID: f.Org.ID, TeamID: "team_elsewhere"}
	mustRead(t, s, member, func(q domain.Queries) error {
		_, err := q.GetSchedule(sc.ID)
		wantCode(t, err, domain.ECodeNotFound)
		return nil
	})
	wantCode(t, s.Write(ctx, member, func(tx domain.Tx) error { return tx.DeleteSchedule(sc.ID) }), domain.ECodeNotFound)
	mustWrite(t, s, scope, func(tx domain.Tx) error { return tx.DeleteSchedule(sc.ID) })
	wantCode(t, s.Write(ctx, scope, func(tx domain.Tx) error { return tx.DeleteSchedule(sc.ID) }), domain.ECodeNotFound)
}

func testWorkflowTenantIsolation(t *testing.T, s domain.Store) {
	a := NewFixture(t, s, "wfa")
	b := NewFixture(t, s, "wfb")
	as := domain.OrgScope(a.Org.ID)
	bs := domain.OrgScope(b.Org.ID)
	w := NewWorkflow(t, s, as, a.Admin.ID, "", "secret")
	agent := &domain.LibraryAgent{ID: domain.NewID(domain.PrefixAgent), Name: "secret agent", CreatedBy: a.Admin.ID,
		Node: domain.Node{Type: domain.NodeTransform, Transform: &domain.TransformConfig{Expression: "1"}}}
	next := time.Now().UTC()
	sc := &domain.Schedule{ID: domain.NewID(domain.PrefixSchedule), WorkflowID: w.ID, CronExpression: "@daily", Timezone: "UTC",
		Active: true, NextRunAt: &next, CreatedBy: a.Admin.ID}
	exe := &domain.Execution{ID: domain.NewID(domain.PrefixExecution), WorkflowID: w.ID, WorkflowVersion: 1,
		Status: domain.ExecutionSucceeded, Trigger: domain.TriggerManual}
	mustWrite(t, s, as, func(tx domain.Tx) error {
		if err := tx.CreateAgent(agent, 0); err != nil {
			return err
		}
		if err := tx.CreateSchedule(sc); err != nil {
			return err
		}
		return tx.CreateExecution(exe)
	})
	mustRead(t, s, bs, func(q domain.Queries) error {
		for name, err := range map[string]error{
			"workflow":  second(q.GetWorkflow(w.ID)),
			"version":   second(q.GetWorkflowVersion(w.ID, 1)),
			"agent":     second(q.GetAgent(agent.ID)),
			"schedule":  second(q.GetSchedule(sc.ID)),
			"execution": second(q.GetExecution(exe.ID)),
		} {
			if !domain.IsCode(err, domain.ECodeNotFound) {
				t.Errorf("B reading A's %s: %v, want not found", name, err)
			}
		}
		stats, err := q.WorkflowStats([]string{w.ID})
		if err != nil {
			return err
		}
		if stats[w.ID].Total != 0 {
			t.Errorf("B sees A's execution statistics: %+v", stats[w.ID])
		}
		ws, _, err := q.ListWorkflows(domain.WorkflowFilter{})
		if err != nil {
			return err
		}
		as, _, err := q.ListAgents(domain.AgentFilter{})
		if err != nil {
			return err
		}
		ss, _, err := q.ListSchedules(domain.ScheduleFilter{})
		if err != nil {
			return err
		}
		if len(ws)+len(as)+len(ss) != 0 {
			t.Errorf("B lists A's objects: %d workflows, %d agents, %d schedules", len(ws), len(as), len(ss))
		}
		return nil
	})
	for name, fn := range map[string]func(tx domain.Tx) error{
		"update workflow": func(tx domain.Tx) error {
			c := *w
			return tx.UpdateWorkflow(&c, 1, &domain.WorkflowVersion{Name: "x", Definition: c.Definition, Resolved: c.Definition})
		},
		"archive workflow": func(tx domain.Tx) error { _, err := tx.ArchiveWorkflow(w.ID, 0); return err },
		"pin workflow":     func(tx domain.Tx) error { _, err := tx.PinWorkflowVersion(w.ID, domain.EnvDev, 1); return err },
		"delete agent":     func(tx domain.Tx) error { return tx.DeleteAgent(agent.ID) },
		"delete schedule":  func(tx domain.Tx) error { return tx.DeleteSchedule(sc.ID) },
		"claim schedule": func(tx domain.Tx) error {
			ok, err := tx.ClaimSchedule(sc.ID, next, next.Add(time.Hour), next, "exe_x", "")
			if err == nil && ok {
				return fmt.Errorf("claimed another organization's schedule")
			}
			return domain.NotFound("schedule")
		},
	} {
		if err := s.Write(ctx, bs, fn); !domain.IsCode(err, domain.ECodeNotFound) {
			t.Errorf("B: %s of A: %v, want not found", name, err)
		}
	}
}

func second[T any](_ T, err error) error { return err }

func asError(err error) *domain.Error {
	var de *domain.Error
	if errors.As(err, &de) {
		return de
	}
	return nil
}
