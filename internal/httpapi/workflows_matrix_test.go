package httpapi_test

import (
	"context"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/store/storetest"
)

// The workflow, library agent and schedule routes in the access matrix.
// Objects are organization-wide, so every role of the organization sees
// them, and fresh, so a call may change or delete them.
func init() {
	for op, c := range map[string]matrixCase{
		"create-workflow":        {params: noID, body: func(*matrixWorld, *orgFixture) any { return wfBody("matrix") }},
		"list-workflows":         {params: noID},
		"get-workflow":           {params: id(freshWorkflow)},
		"update-workflow":        {params: id(freshWorkflow), body: fixedBody(with(wfBody("matrix"), "version", 1))},
		"delete-workflow":        {params: id(freshWorkflow)},
		"list-workflow-versions": {params: id(freshWorkflow)},
		"get-workflow-version": {params: func(w *matrixWorld, f *orgFixture) map[string]string {
			return map[string]string{"id": freshWorkflow(w, f), "version": "1"}
		}},
		"diff-workflow-versions": {params: id(freshWorkflow)},
		"rollback-workflow":      {params: id(freshWorkflowV2), body: fixedBody(map[string]any{"version": 1})},
		"publish-workflow":       {params: id(freshWorkflow), body: fixedBody(map[string]any{"version": 1, "environment": "dev"})},
		"export-workflow":        {params: id(freshWorkflow)},
		"import-workflow":        {params: noID, body: func(*matrixWorld, *orgFixture) any { return wfBody("imported") }},
		"create-agent":           {params: noID, body: fixedBody(summarizerBody("matrix"))},
		"list-agents":            {params: noID},
		"get-agent":              {params: id(freshAgent)},
		"update-agent":           {params: id(freshAgent), body: fixedBody(summarizerBody("renamed"))},
		"delete-agent":           {params: id(freshAgent)},
		"create-schedule": {params: noID, body: func(w *matrixWorld, f *orgFixture) any {
			return map[string]any{"workflow_id": freshWorkflow(w, f), "cron_expression": "@daily"}
		}},
		"list-schedules":   {params: noID},
		"get-schedule":     {params: id(freshSchedule)},
		"update-schedule":  {params: id(freshSchedule), body: fixedBody(map[string]any{"name": "renamed"})},
		"delete-schedule":  {params: id(freshSchedule)},
		"preview-schedule": {params: id(freshSchedule)},
		"preview-cron":     {params: noID, body: fixedBody(map[string]any{"cron_expression": "@hourly"})},
	} {
		accessMatrix[op] = c
	}
}

func matrixWrite(w *matrixWorld, f *orgFixture, fn func(tx domain.Tx) error) {
	if err := w.e.store.Write(context.Background(), domain.OrgScope(f.org.ID), fn); err != nil {
		w.e.t.Fatal(err)
	}
}

// freshWorkflow creates an organization-wide workflow at version 1 in f.
func freshWorkflow(w *matrixWorld, f *orgFixture) string {
	return storetest.NewWorkflow(w.e.t, w.e.store, domain.OrgScope(f.org.ID), f.users[domain.RoleAdmin].ID, "", "matrix").ID
}

func freshAgent(w *matrixWorld, f *orgFixture) string {
	a := &domain.LibraryAgent{ID: domain.NewID(domain.PrefixAgent), Name: "matrix", CreatedBy: f.users[domain.RoleAdmin].ID,
		Node: domain.Node{Type: domain.NodeTransform, Transform: &domain.TransformConfig{Expression: "input"}}}
	matrixWrite(w, f, func(tx domain.Tx) error { return tx.CreateAgent(a, 0) })
	return a.ID
}

func freshSchedule(w *matrixWorld, f *orgFixture) string {
	next := time.Now().Add(time.Hour).UTC()
	sc := &domain.Schedule{ID: domain.NewID(domain.PrefixSchedule), WorkflowID: freshWorkflow(w, f), CronExpression: "@hourly",
		Timezone: "UTC", Active: true, NextRunAt: &next, CreatedBy: f.users[domain.RoleAdmin].ID}
	matrixWrite(w, f, func(tx domain.Tx) error { return tx.CreateSchedule(sc) })
	return sc.ID
}

// freshWorkflowV2 creates an organization-wide workflow in f and changes it
// once, so it is at version 2 and can be rolled back to version 1.
func freshWorkflowV2(w *matrixWorld, f *orgFixture) string {
	id := freshWorkflow(w, f)
	matrixWrite(w, f, func(tx domain.Tx) error {
		wf, err := tx.GetWorkflow(id)
		if err != nil {
			return err
		}
		wf.Description = "changed"
		return tx.UpdateWorkflow(wf, 1, &domain.WorkflowVersion{Name: wf.Name, Description: wf.Description, Definition: wf.Definition,
			Resolved: wf.Definition, AuthorID: f.users[domain.RoleAdmin].ID, Message: "matrix change"})
	})
	return id
}
