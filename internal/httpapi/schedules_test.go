package httpapi_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
)

type scheduleJSON struct {
	ID             string     `json:"id"`
	TeamID         string     `json:"team_id"`
	WorkflowID     string     `json:"workflow_id"`
	CronExpression string     `json:"cron_expression"`
	Timezone       string     `json:"timezone"`
	Environment    string     `json:"environment"`
	IsActive       bool       `json:"is_active"`
	NextRunAt      *time.Time `json:"next_run_at"`
	Input          any        `json:"input"`
}

type previewJSON struct {
	Runs []struct {
		At    time.Time `json:"at"`
		Local string    `json:"local"`
	} `json:"runs"`
}

func TestSchedules(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("Cron")
		stranger := e.newOrg("CronStranger")
		dev := f.token(domain.RoleDeveloper)
		w := f.createWorkflow(domain.RoleDeveloper, wfBody("Nightly"))
		good := map[string]any{"workflow_id": w.ID, "name": "nightly", "cron_expression": "0 2 * * *",
			"timezone": "America/New_York", "input": map[string]any{"page": "news"}}

		for _, tc := range []struct {
			name string
			body map[string]any
			want []wantProblem
		}{
			{"bad cron", with(good, "cron_expression", "61 * * * *"), []wantProblem{{"/cron_expression", `invalid minute field "61"`}}},
			{"too few fields", with(good, "cron_expression", "* * *"), []wantProblem{{"/cron_expression", "invalid cron expression"}}},
			{"bad zone", with(good, "timezone", "Mars/Olympus"), []wantProblem{{"/timezone", `invalid time zone "Mars/Olympus"`}}},
			{"both wrong", with(with(good, "timezone", "Local"), "cron_expression", "@sometimes"),
				[]wantProblem{{"/timezone", "time zone"}, {"/cron_expression", "@sometimes"}}},
			{"unpinned environment", with(good, "environment", "prod"), []wantProblem{{"/environment", "no version of this workflow is published to prod"}}},
			{"input against the schema", with(good, "input", map[string]any{"page": 7}), []wantProblem{{"/input/page", ""}}},
			{"missing required input", with(good, "input", nil), []wantProblem{{"/input", "want object"}}},
			{"unknown workflow", with(good, "workflow_id", "wf_nosuchworkflow"), []wantProblem{{"/workflow_id", "unknown workflow"}}},
			{"next_run_at is not writable", with(good, "next_run_at", "2030-01-01T00:00:00Z"), []wantProblem{{"/next_run_at", "unexpected property"}}},
			{"last_execution_id is not writable", with(good, "last_execution_id", "exe_x"), []wantProblem{{"/last_execution_id", "unexpected property"}}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				p := e.problemOf(http.MethodPost, "/api/v1/schedules", dev, tc.body, http.StatusUnprocessableEntity)
				for _, want := range tc.want {
					if !hasProblem(p, want) {
						t.Errorf("no problem at %s containing %q; got %+v", want.pointer, want.fragment, p.Errors)
					}
				}
			})
		}
		e.problemOf(http.MethodPost, "/api/v1/schedules", stranger.token(domain.RoleAdmin), good, http.StatusUnprocessableEntity)
		e.problemOf(http.MethodPost, "/api/v1/schedules", f.token(domain.RoleOperator), good, http.StatusForbidden)

		before := time.Now().UTC()
		var sc scheduleJSON
		e.call(http.MethodPost, "/api/v1/schedules", dev, good, http.StatusCreated, &sc)
		if !sc.IsActive || sc.NextRunAt == nil || !sc.NextRunAt.After(before) || sc.NextRunAt.After(before.Add(25*time.Hour)) ||
			sc.TeamID != f.team.ID || sc.Timezone != "America/New_York" {
			t.Fatalf("created = %+v", sc)
		}
		if local := sc.NextRunAt.In(mustZone(t, "America/New_York")); local.Hour() != 2 && local.Hour() != 3 || local.Minute() != 0 {
			t.Errorf("next run %v is not 02:00 New York time", local)
		}
		path := "/api/v1/schedules/" + sc.ID

		var pv previewJSON
		e.call(http.MethodGet, path+"/preview", f.token(domain.RoleViewer), nil, http.StatusOK, &pv)
		if len(pv.Runs) != 5 || !pv.Runs[0].At.Equal(*sc.NextRunAt) {
			t.Fatalf("preview = %+v", pv)
		}
		for i := 1; i < len(pv.Runs); i++ {
			if gap := pv.Runs[i].At.Sub(pv.Runs[i-1].At); gap < 23*time.Hour || gap > 25*time.Hour {
				t.Errorf("runs %d and %d are %v apart", i-1, i, gap)
			}
		}

		// Publishing prod makes the environment valid.
		e.call(http.MethodPost, "/api/v1/workflows/"+w.ID+"/publish", dev, map[string]any{"version": 1, "environment": "prod"}, http.StatusOK, nil)
		var patched scheduleJSON
		e.call(http.MethodPatch, path, dev, map[string]any{"environment": "prod", "cron_expression": "*/15 * * * *"}, http.StatusOK, &patched)
		if patched.Environment != "prod" || patched.CronExpression != "*/15 * * * *" || patched.NextRunAt == nil ||
			time.Until(*patched.NextRunAt) > 16*time.Minute || patched.Timezone != "America/New_York" {
			t.Errorf("patched = %+v", patched)
		}
		p := e.problemOf(http.MethodPatch, path, dev, map[string]any{"timezone": "Nowhere/Land"}, http.StatusUnprocessableEntity)
		if !hasProblem(p, wantProblem{"/timezone", "time zone"}) {
			t.Errorf("bad zone on update: %+v", p.Errors)
		}
		e.problemOf(http.MethodPatch, path, dev, map[string]any{"workflow_id": "wf_other"}, http.StatusUnprocessableEntity)
		var off, on scheduleJSON
		e.call(http.MethodPatch, path, dev, map[string]any{"is_active": false}, http.StatusOK, &off)
		if off.IsActive || off.NextRunAt != nil {
			t.Errorf("deactivated = %+v", off)
		}
		e.call(http.MethodPatch, path, dev, map[string]any{"is_active": true}, http.StatusOK, &on)
		if !on.IsActive || on.NextRunAt == nil {
			t.Errorf("reactivated = %+v", on)
		}

		var list struct {
			Schedules []scheduleJSON `json:"schedules"`
		}
		e.call(http.MethodGet, "/api/v1/schedules?workflow_id="+w.ID, f.token(domain.RoleViewer), nil, http.StatusOK, &list)
		if len(list.Schedules) != 1 {
			t.Errorf("schedules of the workflow = %+v", list.Schedules)
		}

		// Another team's or organization's schedule is not found.
		research := f.newTeam("Research")
		theirs := f.createWorkflow(domain.RoleAdmin, with(wfBody("Theirs"), "team_id", research.ID))
		var hidden scheduleJSON
		e.call(http.MethodPost, "/api/v1/schedules", f.token(domain.RoleAdmin), with(good, "workflow_id", theirs.ID), http.StatusCreated, &hidden)
		if hidden.TeamID != research.ID {
			t.Errorf("schedule team %q, want the workflow's", hidden.TeamID)
		}
		e.call(http.MethodGet, "/api/v1/schedules", dev, nil, http.StatusOK, &list)
		if len(list.Schedules) != 1 || list.Schedules[0].ID != sc.ID {
			t.Errorf("developer sees %+v", list.Schedules)
		}
		for _, c := range []struct{ method, token, path string }{
			{http.MethodGet, dev, "/api/v1/schedules/" + hidden.ID},
			{http.MethodGet, dev, "/api/v1/schedules/" + hidden.ID + "/preview"},
			{http.MethodDelete, dev, "/api/v1/schedules/" + hidden.ID},
			{http.MethodGet, stranger.token(domain.RoleAdmin), path},
			{http.MethodPatch, stranger.token(domain.RoleAdmin), path},
			{http.MethodDelete, stranger.token(domain.RoleAdmin), path},
		} {
			var body any
			if c.method == http.MethodPatch {
				body = map[string]any{"is_active": false}
			}
			e.problemOf(c.method, c.path, c.token, body, http.StatusNotFound)
		}

		// Archiving the workflow stops its schedules.
		e.call(http.MethodDelete, "/api/v1/workflows/"+theirs.ID, f.token(domain.RoleAdmin), nil, http.StatusNoContent, nil)
		var stopped scheduleJSON
		e.call(http.MethodGet, "/api/v1/schedules/"+hidden.ID, f.token(domain.RoleAdmin), nil, http.StatusOK, &stopped)
		if stopped.IsActive || stopped.NextRunAt != nil {
			t.Errorf("schedule of an archived workflow = %+v", stopped)
		}
		e.problemOf(http.MethodPatch, "/api/v1/schedules/"+hidden.ID, f.token(domain.RoleAdmin), map[string]any{"is_active": true}, http.StatusUnprocessableEntity)

		e.call(http.MethodDelete, path, dev, nil, http.StatusNoContent, nil)
		e.problemOf(http.MethodGet, path, dev, nil, http.StatusNotFound)
		for action, want := range map[string]int{"schedule.created": 1, "schedule.updated": 3, "schedule.deleted": 1} {
			if n := f.auditCount(action, sc.ID); n != want {
				t.Errorf("%d %s audit rows, want %d", n, action, want)
			}
		}
	})
}

func previewURL(cron, zone, after string, count int) string {
	q := url.Values{"cron_expression": {cron}}
	if zone != "" {
		q.Set("timezone", zone)
	}
	if after != "" {
		q.Set("after", after)
	}
	if count > 0 {
		q.Set("count", strconv.Itoa(count))
	}
	return "/api/v1/schedules/preview?" + q.Encode()
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// TestCronPreviewAcrossDaylightSaving checks the API applies the
// daylight-saving rules: a local time skipped by spring-forward runs at the
// first instant after the gap, a repeated one runs once, and steps follow
// elapsed time.
func TestCronPreviewAcrossDaylightSaving(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, e *env) {
		f := e.newOrg("Preview")
		tok := f.token(domain.RoleViewer)
		for _, tc := range []struct {
			name, cron, zone, after string
			want                    []string
		}{
			{"New York spring forward", "0 2 * * *", "America/New_York", "2026-03-07T12:00:00Z",
				[]string{"2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z", "2026-03-10T06:00:00Z"}},
			{"New York fall back", "30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z",
				[]string{"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}},
			{"Berlin spring forward", "30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z",
				[]string{"2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"}},
			{"Berlin fall back, hourly follows elapsed time", "@hourly", "Europe/Berlin", "2026-10-24T23:30:00Z",
				[]string{"2026-10-25T00:00:00Z", "2026-10-25T01:00:00Z", "2026-10-25T02:00:00Z"}},
		} {
			var pv previewJSON
			e.call(http.MethodGet, previewURL(tc.cron, tc.zone, tc.after, len(tc.want)), tok, nil, http.StatusOK, &pv)
			var got []string
			for _, r := range pv.Runs {
				got = append(got, r.At.UTC().Format(time.RFC3339))
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("%s: runs %v, want %v", tc.name, got, tc.want)
			}
		}
		// The Berlin hourly runs at 00:00 and 01:00 UTC are 02:00 CEST and 02:00 CET: the local wall clock says so.
		var pv previewJSON
		e.call(http.MethodGet, previewURL("@hourly", "Europe/Berlin", "2026-10-24T23:30:00Z", 2), tok, nil, http.StatusOK, &pv)
		if len(pv.Runs) != 2 || pv.Runs[0].Local != "2026-10-25T02:00:00+02:00" || pv.Runs[1].Local != "2026-10-25T02:00:00+01:00" {
			t.Errorf("local times = %+v", pv.Runs)
		}
		p := e.problemOf(http.MethodGet, previewURL("0 0 30 2 *", "", "", 0), tok, nil, http.StatusUnprocessableEntity)
		if !hasProblem(p, wantProblem{"query.cron_expression", "0 0 30 2 *"}) {
			t.Errorf("never-firing expression: %+v", p.Errors)
		}
		p = e.problemOf(http.MethodGet, previewURL("@daily", "Europe/Paris-ish", "", 0), tok, nil, http.StatusUnprocessableEntity)
		if !hasProblem(p, wantProblem{"query.timezone", "time zone"}) {
			t.Errorf("bad zone: %+v", p.Errors)
		}
	})
}
