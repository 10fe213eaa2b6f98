package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
)

// schedule stores an active schedule of wf due 30 s ago with the given input.
func (h *harness) schedule(wf, input string) *domain.Schedule {
	h.t.Helper()
	past := time.Now().UTC().Add(-30 * time.Second).Truncate(time.Second)
	sc := &domain.Schedule{ID: domain.NewID(domain.PrefixSchedule), WorkflowID: wf, Name: "s", CronExpression: "* * * * *",
		Timezone: "UTC", Active: true, NextRunAt: &past, CreatedBy: h.fx.Admin.ID, Input: json.RawMessage(input)}
	if err := h.store.Write(context.Background(), domain.OrgScope(h.fx.Org.ID), func(tx domain.Tx) error {
		return tx.CreateSchedule(sc)
	}); err != nil {
		h.t.Fatal(err)
	}
	return sc
}

// newVersion appends a version with def to the workflow.
func (h *harness) newVersion(wfID string, def domain.Definition) {
	h.t.Helper()
	err := h.store.Write(context.Background(), domain.OrgScope(h.fx.Org.ID), func(tx domain.Tx) error {
		w, err := tx.GetWorkflow(wfID)
		if err != nil {
			return err
		}
		expected := w.Version
		w.Definition = def
		v := &domain.WorkflowVersion{ID: domain.NewID(domain.PrefixVersion), Definition: def, Resolved: def, AuthorID: h.fx.Admin.ID}
		return tx.UpdateWorkflow(w, expected, v)
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

// fireState is what firing left behind for one schedule.
type fireState struct {
	sched     *domain.Schedule
	scheduled []domain.Execution
	failures  []domain.AuditEvent
}

func (h *harness) fireState(schedID string) fireState {
	h.t.Helper()
	var st fireState
	err := h.store.Read(context.Background(), domain.OrgScope(h.fx.Org.ID), func(q domain.Queries) error {
		var err error
		if st.sched, err = q.GetSchedule(schedID); err != nil {
			return err
		}
		exes, _, err := q.ListExecutions(domain.ExecutionFilter{Trigger: domain.TriggerSchedule})
		if err != nil {
			return err
		}
		for _, x := range exes {
			if x.ScheduleID == schedID {
				st.scheduled = append(st.scheduled, x)
			}
		}
		st.failures, err = q.ListAudit(domain.AuditFilter{Action: "schedule.fire_failed", ResourceID: schedID})
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return st
}

func (h *harness) fire() int {
	h.t.Helper()
	n, err := h.engine.FireDueSchedules(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	return n
}

// checkFailedFiring checks that the due time was given up: the schedule
// moved on to a future time with no execution, one schedule.fire_failed
// row says why, and another tick neither starts nor records anything.
func checkFailedFiring(t *testing.T, h *harness, sc *domain.Schedule, reason string) fireState {
	t.Helper()
	st := h.fireState(sc.ID)
	if len(st.scheduled) != 0 {
		t.Errorf("%d executions started: %+v", len(st.scheduled), st.scheduled)
	}
	if st.sched.NextRunAt == nil || !st.sched.NextRunAt.After(time.Now()) || st.sched.LastRunAt == nil ||
		st.sched.LastExecutionID != "" {
		t.Errorf("the schedule did not move on: next %v last %v execution %q", st.sched.NextRunAt, st.sched.LastRunAt,
			st.sched.LastExecutionID)
	}
	if !strings.Contains(st.sched.LastError, reason) {
		t.Errorf("the schedule's last error = %q, want the reason %q", st.sched.LastError, reason)
	}
	if len(st.failures) != 1 {
		t.Fatalf("%d schedule.fire_failed rows, want 1", len(st.failures))
	}
	f := st.failures[0]
	if f.Success || f.ResourceType != "schedule" || !strings.Contains(f.ErrorMessage, reason) ||
		!strings.Contains(f.Details["reason"].(string), reason) || f.Details["workflow_id"] != sc.WorkflowID ||
		f.Details["due_at"] == nil {
		t.Errorf("schedule.fire_failed = %+v, want the reason %q", f, reason)
	}
	if n := h.fire(); n != 0 {
		t.Errorf("the next tick fired %d", n)
	}
	if again := h.fireState(sc.ID); len(again.failures) != 1 || len(again.scheduled) != 0 ||
		!again.sched.NextRunAt.Equal(*st.sched.NextRunAt) {
		t.Errorf("the next tick retried the due time: %d failures, %d executions, next %v", len(again.failures),
			len(again.scheduled), again.sched.NextRunAt)
	}
	return st
}

// TestScheduleInputCheckedAgainstTheVersionItRuns: a schedule created for
// a version without an input schema fires while its input fits; once a
// later version requires a field the input lacks, the due time is recorded
// as a failed firing and skipped instead of running with that input.
func TestScheduleInputCheckedAgainstTheVersionItRuns(t *testing.T) {
	t.Parallel()
	eachKind(t, func(t *testing.T, kind string) {
		h := newHarness(t, kind, harnessOpts{noWorkers: true}).withOrg("schedinput")
		def := domain.Definition{Nodes: []domain.Node{transform("a", "1")}}
		wf := h.workflow(def)
		sc := h.schedule(wf, `{"word": 3}`)
		if n := h.fire(); n != 1 {
			t.Fatalf("fired %d with the first version, want 1", n)
		}
		if st := h.fireState(sc.ID); len(st.scheduled) != 1 || len(st.failures) != 0 {
			t.Fatalf("first version: %d executions, %d failures", len(st.scheduled), len(st.failures))
		}

		def.InputSchema = json.RawMessage(`{"type": "object", "required": ["word"], "properties": {"word": {"type": "string"}}}`)
		h.newVersion(wf, def)
		sc2 := h.schedule(wf, `{"word": 3}`)
		if n := h.fire(); n != 0 {
			t.Fatalf("fired %d with an input the schema refuses", n)
		}
		st := checkFailedFiring(t, h, sc2, "does not match the input schema")
		problems, _ := st.failures[0].Details["problems"].([]any)
		if len(problems) == 0 || !strings.Contains(string(mustMarshal(t, problems)), "/input/word") {
			t.Errorf("problems = %v, want one at /input/word", st.failures[0].Details["problems"])
		}

		// A fitting input fires with the same version.
		ok := h.schedule(wf, `{"word": "hi"}`)
		if n := h.fire(); n != 1 {
			t.Errorf("fired %d with a fitting input, want 1", n)
		}
		if st := h.fireState(ok.ID); len(st.scheduled) != 1 || st.scheduled[0].WorkflowVersion != 2 || len(st.failures) != 0 {
			t.Errorf("fitting input: %+v", st)
		}
	})
}

// TestScheduleOverTheHourlyLimitMovesOn: a due time refused by the
// organization's hourly limit is recorded (with the limit) and skipped; it
// is not retried at every tick, and other schedules are not held up.
func TestScheduleOverTheHourlyLimitMovesOn(t *testing.T) {
	t.Parallel()
	eachKind(t, func(t *testing.T, kind string) {
		h := newHarness(t, kind, harnessOpts{noWorkers: true, perHour: 1}).withOrg("schedlimit")
		wf := h.workflow(domain.Definition{Nodes: []domain.Node{transform("a", "1")}})
		h.start(wf, map[string]any{}) // the hour's only execution
		sc := h.schedule(wf, `{}`)
		if n := h.fire(); n != 0 {
			t.Fatalf("fired %d over the hourly limit", n)
		}
		st := checkFailedFiring(t, h, sc, "MAX_WORKFLOW_EXECUTIONS_PER_HOUR")
		if d := st.failures[0].Details; d["limit"] != "max_workflow_executions_per_hour" || d["error_code"] != "limit_exceeded" {
			t.Errorf("details = %v", d)
		}
	})
}

// TestScheduleOfAnUnpublishedEnvironmentMovesOn: a schedule pinned to an
// environment no version is published to cannot fire; it moves on.
func TestScheduleOfAnUnpublishedEnvironmentMovesOn(t *testing.T) {
	t.Parallel()
	eachKind(t, func(t *testing.T, kind string) {
		h := newHarness(t, kind, harnessOpts{noWorkers: true}).withOrg("schedpin")
		wf := h.workflow(domain.Definition{Nodes: []domain.Node{transform("a", "1")}})
		past := time.Now().UTC().Add(-30 * time.Second).Truncate(time.Second)
		sc := &domain.Schedule{ID: domain.NewID(domain.PrefixSchedule), WorkflowID: wf, Name: "prod", CronExpression: "@hourly",
			Timezone: "UTC", Active: true, NextRunAt: &past, CreatedBy: h.fx.Admin.ID, Input: json.RawMessage(`{}`),
			Environment: domain.EnvProd}
		if err := h.store.Write(context.Background(), domain.OrgScope(h.fx.Org.ID), func(tx domain.Tx) error {
			return tx.CreateSchedule(sc)
		}); err != nil {
			t.Fatal(err)
		}
		if n := h.fire(); n != 0 {
			t.Fatalf("fired %d without a prod version", n)
		}
		checkFailedFiring(t, h, sc, "no version of this workflow is published to prod")
	})
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
