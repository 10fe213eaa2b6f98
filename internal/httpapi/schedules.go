package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/schedule"
	"github.com/superagent-hq/superagent/internal/workflow"
)

// ScheduleOut is a schedule as the API shows it.
type ScheduleOut struct {
	ID              string             `json:"id"`
	TeamID          string             `json:"team_id" doc:"The workflow's team"`
	WorkflowID      string             `json:"workflow_id"`
	Name            string             `json:"name"`
	CronExpression  string             `json:"cron_expression"`
	Timezone        string             `json:"timezone"`
	Input           json.RawMessage    `json:"input"`
	Environment     domain.Environment `json:"environment" doc:"The pinned version each run executes; \"\" runs the latest"`
	IsActive        bool               `json:"is_active"`
	NextRunAt       *time.Time         `json:"next_run_at,omitempty"`
	LastRunAt       *time.Time         `json:"last_run_at,omitempty"`
	LastExecutionID string             `json:"last_execution_id,omitempty"`
	LastError       string             `json:"last_error,omitempty" doc:"Why the last due time started no execution (details in the audit log as schedule.fire_failed)"`
	CreatedBy       string             `json:"created_by"`
	CreatedAt       time.Time          `json:"created_at"`
	UpdatedAt       time.Time          `json:"updated_at"`
}

func scheduleOut(sc *domain.Schedule) ScheduleOut {
	input := sc.Input
	if len(input) == 0 {
		input = json.RawMessage("null")
	}
	return ScheduleOut{ID: sc.ID, TeamID: sc.TeamID, WorkflowID: sc.WorkflowID, Name: sc.Name, CronExpression: sc.CronExpression,
		Timezone: sc.Timezone, Input: input, Environment: sc.Environment, IsActive: sc.Active, NextRunAt: sc.NextRunAt,
		LastRunAt: sc.LastRunAt, LastExecutionID: sc.LastExecutionID, LastError: sc.LastError, CreatedBy: sc.CreatedBy, CreatedAt: sc.CreatedAt,
		UpdatedAt: sc.UpdatedAt}
}

// RunTime is one upcoming run of a schedule.
type RunTime struct {
	At    time.Time `json:"at" doc:"The instant, in UTC"`
	Local string    `json:"local" doc:"The same instant on the schedule zone's wall clock (RFC 3339 with its offset)"`
}

// parseSchedule checks a cron expression and a time zone separately, so
// that both problems are reported when both are wrong.
func parseSchedule(expr, tz string) (*schedule.Schedule, []domain.FieldError) {
	var problems []domain.FieldError
	if _, err := schedule.Parse("@hourly", tz); err != nil {
		problems = append(problems, domain.FieldError{Pointer: "/timezone", Message: scheduleProblem(err)})
	}
	if _, err := schedule.Parse(expr, "UTC"); err != nil {
		problems = append(problems, domain.FieldError{Pointer: "/cron_expression", Message: scheduleProblem(err)})
	}
	if len(problems) > 0 {
		return nil, problems
	}
	sched, err := schedule.Parse(expr, tz)
	if err != nil {
		return nil, []domain.FieldError{{Pointer: "/cron_expression", Message: scheduleProblem(err)}}
	}
	return sched, nil
}

func scheduleProblem(err error) string {
	var pe *schedule.ParseError
	if errors.As(err, &pe) {
		return pe.Error()
	}
	return "invalid schedule"
}

func runTimes(sched *schedule.Schedule, after time.Time, n int) []RunTime {
	out := []RunTime{}
	for _, t := range sched.Preview(after, n) {
		out = append(out, RunTime{At: t, Local: t.In(sched.Location()).Format(time.RFC3339)})
	}
	return out
}

func validScheduleID(id string) error {
	if !domain.ValidID(domain.PrefixSchedule, id) {
		return domain.NotFound("schedule")
	}
	return nil
}

// checkRunTarget checks what a schedule will run: the workflow must be
// visible and not archived, the environment pinned, and the input must
// match the input schema of the version that would run today.
func checkRunTarget(q domain.Queries, workflowID string, env domain.Environment, input json.RawMessage) (*domain.Workflow, []domain.FieldError, error) {
	var problems []domain.FieldError
	w, v, err := q.RunnableVersion(workflowID, env, 0)
	switch {
	case domain.IsCode(err, domain.ECodeNotFound):
		return nil, []domain.FieldError{{Pointer: "/workflow_id", Message: fmt.Sprintf("unknown workflow %q", clipText(workflowID, 80))}}, nil
	case domain.IsCode(err, domain.ECodeConflict):
		ptr := "/environment"
		if w, gerr := q.GetWorkflow(workflowID); gerr == nil && w.ArchivedAt != nil {
			ptr = "/workflow_id"
		}
		var de *domain.Error
		errors.As(err, &de)
		return nil, []domain.FieldError{{Pointer: ptr, Message: de.Message}}, nil
	case err != nil:
		return nil, nil, err
	}
	var value any
	if len(input) > 0 {
		if err := json.Unmarshal(input, &value); err != nil {
			return nil, []domain.FieldError{{Pointer: "/input", Message: "input must be JSON"}}, nil
		}
	}
	for _, p := range workflow.CheckInput(v.Definition.InputSchema, value) {
		problems = append(problems, domain.FieldError{Pointer: "/input" + p.Pointer, Message: p.Message})
	}
	return w, problems, nil
}

func invalidSchedule(problems []domain.FieldError) error {
	return domain.Invalid(fmt.Sprintf("the schedule has %d problem(s)", len(problems)), problems...)
}

func (s *Server) registerScheduleRoutes() {
	tags := []string{"Schedules"}
	type scheduleOutput struct {
		Body ScheduleOut
	}

	type scheduleCreateIn struct {
		Body struct {
			WorkflowID     string             `json:"workflow_id" maxLength:"64"`
			Name           string             `json:"name,omitempty" maxLength:"200"`
			CronExpression string             `json:"cron_expression" maxLength:"128" doc:"Five fields (minute hour day-of-month month day-of-week) or @hourly, @daily, @weekly, @monthly, @yearly, @every <duration>" example:"0 9 * * 1-5"`
			Timezone       string             `json:"timezone,omitempty" maxLength:"64" doc:"IANA time zone; default UTC" example:"Europe/Berlin"`
			Input          json.RawMessage    `json:"input,omitempty" doc:"Execution input of every run; must match the workflow's input schema"`
			Environment    domain.Environment `json:"environment,omitempty" enum:",dev,staging,prod" doc:"Run the version pinned to this environment; default: the latest version"`
			IsActive       *bool              `json:"is_active,omitempty" doc:"Default true"`
		}
	}
	register(s, huma.Operation{OperationID: "create-schedule", Method: http.MethodPost, Path: "/api/v1/schedules", Tags: tags,
		Summary: "Schedule a workflow", DefaultStatus: http.StatusCreated,
		Description: "Run times follow the zone's wall clock: a time skipped by a daylight-saving change runs at the first " +
			"instant after the gap, a repeated time runs once; steps such as */15 and @hourly follow elapsed time.",
		Errors: []int{http.StatusUnprocessableEntity}}, Requires(domain.PermSchedulesManage),
		func(ctx context.Context, in *scheduleCreateIn) (*scheduleOutput, error) {
			p := principal(ctx)
			scope := p.Scope()
			b := in.Body
			if b.Timezone == "" {
				b.Timezone = "UTC"
			}
			sched, problems := parseSchedule(b.CronExpression, b.Timezone)
			var w *domain.Workflow
			err := s.store.Read(ctx, scope, func(q domain.Queries) (err error) {
				var more []domain.FieldError
				w, more, err = checkRunTarget(q, b.WorkflowID, b.Environment, b.Input)
				problems = append(problems, more...)
				return err
			})
			if err != nil {
				return nil, err
			}
			if len(problems) > 0 {
				return nil, invalidSchedule(problems)
			}
			sc := &domain.Schedule{ID: domain.NewID(domain.PrefixSchedule), TeamID: w.TeamID, WorkflowID: w.ID,
				Name: strings.TrimSpace(b.Name), CronExpression: sched.String(), Timezone: b.Timezone, Input: rawInput(b.Input),
				Environment: b.Environment, Active: b.IsActive == nil || *b.IsActive, CreatedBy: p.UserID}
			err = s.store.Write(ctx, scope, func(tx domain.Tx) error {
				if sc.Active {
					next := sched.Next(tx.Now())
					sc.NextRunAt = &next
				}
				if err := tx.CreateSchedule(sc); err != nil {
					return err
				}
				tx.Audit(auditEvent(ctx, "schedule.created", "schedule", sc.ID, map[string]any{"workflow_id": w.ID,
					"cron_expression": sc.CronExpression, "timezone": sc.Timezone, "environment": string(sc.Environment), "is_active": sc.Active}))
				return nil
			})
			if err != nil {
				return nil, err
			}
			return &scheduleOutput{Body: scheduleOut(sc)}, nil
		})

	type scheduleListIn struct {
		WorkflowID string `query:"workflow_id" maxLength:"64"`
		Active     string `query:"is_active" enum:"true,false"`
		Limit      int    `query:"limit" minimum:"1" maximum:"200" default:"50"`
		Cursor     string `query:"cursor" maxLength:"200"`
	}
	type scheduleListOut struct {
		Body struct {
			Schedules  []ScheduleOut `json:"schedules"`
			NextCursor string        `json:"next_cursor,omitempty"`
		}
	}
	register(s, huma.Operation{OperationID: "list-schedules", Method: http.MethodGet, Path: "/api/v1/schedules", Tags: tags,
		Summary: "List schedules"}, Requires(domain.PermSchedulesRead),
		func(ctx context.Context, in *scheduleListIn) (*scheduleListOut, error) {
			f := domain.ScheduleFilter{WorkflowID: in.WorkflowID, Page: domain.Page{Limit: in.Limit, Cursor: in.Cursor}}
			if in.Active != "" {
				active := in.Active == "true"
				f.Active = &active
			}
			out := &scheduleListOut{}
			out.Body.Schedules = []ScheduleOut{}
			err := s.store.Read(ctx, principal(ctx).Scope(), func(q domain.Queries) error {
				list, next, err := q.ListSchedules(f)
				for i := range list {
					out.Body.Schedules = append(out.Body.Schedules, scheduleOut(&list[i]))
				}
				out.Body.NextCursor = next
				return err
			})
			return out, err
		})

	type scheduleIDIn struct {
		ID string `path:"id" maxLength:"64"`
	}
	register(s, huma.Operation{OperationID: "get-schedule", Method: http.MethodGet, Path: "/api/v1/schedules/{id}", Tags: tags,
		Summary: "Get a schedule"}, Requires(domain.PermSchedulesRead),
		func(ctx context.Context, in *scheduleIDIn) (*scheduleOutput, error) {
			if err := validScheduleID(in.ID); err != nil {
				return nil, err
			}
			var sc *domain.Schedule
			err := s.store.Read(ctx, principal(ctx).Scope(), func(q domain.Queries) (err error) {
				sc, err = q.GetSchedule(in.ID)
				return err
			})
			if err != nil {
				return nil, err
			}
			return &scheduleOutput{Body: scheduleOut(sc)}, nil
		})

	type scheduleUpdateIn struct {
		ID   string `path:"id" maxLength:"64"`
		Body struct {
			Name           *string             `json:"name,omitempty" maxLength:"200"`
			CronExpression *string             `json:"cron_expression,omitempty" maxLength:"128"`
			Timezone       *string             `json:"timezone,omitempty" maxLength:"64"`
			Input          json.RawMessage     `json:"input,omitempty"`
			Environment    *domain.Environment `json:"environment,omitempty" enum:",dev,staging,prod" doc:"\"\" runs the latest version"`
			IsActive       *bool               `json:"is_active,omitempty"`
		}
	}
	register(s, huma.Operation{OperationID: "update-schedule", Method: http.MethodPatch, Path: "/api/v1/schedules/{id}", Tags: tags,
		Summary: "Change a schedule (only the fields given)",
		Description: "Changing the expression or zone, or activating, computes the next run from now; runs missed while " +
			"inactive are not made up.", Errors: []int{http.StatusUnprocessableEntity}}, Requires(domain.PermSchedulesManage),
		func(ctx context.Context, in *scheduleUpdateIn) (*scheduleOutput, error) {
			if err := validScheduleID(in.ID); err != nil {
				return nil, err
			}
			p := principal(ctx)
			scope := p.Scope()
			b := in.Body
			var cur *domain.Schedule
			var problems []domain.FieldError
			err := s.store.Read(ctx, scope, func(q domain.Queries) (err error) {
				if cur, err = q.GetSchedule(in.ID); err != nil {
					return err
				}
				env, input := cur.Environment, cur.Input
				if b.Environment != nil {
					env = *b.Environment
				}
				if len(b.Input) > 0 {
					input = b.Input
				}
				if b.Environment != nil || len(b.Input) > 0 || (b.IsActive != nil && *b.IsActive) {
					_, problems, err = checkRunTarget(q, cur.WorkflowID, env, input)
				}
				return err
			})
			if err != nil {
				return nil, err
			}
			next := *cur
			if b.Name != nil {
				next.Name = strings.TrimSpace(*b.Name)
			}
			if b.CronExpression != nil {
				next.CronExpression = *b.CronExpression
			}
			if b.Timezone != nil {
				next.Timezone = *b.Timezone
				if next.Timezone == "" {
					next.Timezone = "UTC"
				}
			}
			if b.Environment != nil {
				next.Environment = *b.Environment
			}
			if len(b.Input) > 0 {
				next.Input = b.Input
			}
			if b.IsActive != nil {
				next.Active = *b.IsActive
			}
			sched, timing := parseSchedule(next.CronExpression, next.Timezone)
			if problems = append(timing, problems...); len(problems) > 0 {
				return nil, invalidSchedule(problems)
			}
			next.CronExpression = sched.String()
			retime := next.CronExpression != cur.CronExpression || next.Timezone != cur.Timezone || next.Active != cur.Active
			err = s.store.Write(ctx, scope, func(tx domain.Tx) error {
				switch {
				case !next.Active:
					next.NextRunAt = nil
				case retime || next.NextRunAt == nil:
					t := sched.Next(tx.Now())
					next.NextRunAt = &t
				}
				if err := tx.UpdateSchedule(&next); err != nil {
					return err
				}
				tx.Audit(auditEvent(ctx, "schedule.updated", "schedule", next.ID, map[string]any{"workflow_id": next.WorkflowID,
					"cron_expression": next.CronExpression, "timezone": next.Timezone, "environment": string(next.Environment),
					"is_active": next.Active}))
				return nil
			})
			if err != nil {
				return nil, err
			}
			return &scheduleOutput{Body: scheduleOut(&next)}, nil
		})

	register(s, huma.Operation{OperationID: "delete-schedule", Method: http.MethodDelete, Path: "/api/v1/schedules/{id}", Tags: tags,
		Summary: "Delete a schedule", DefaultStatus: http.StatusNoContent}, Requires(domain.PermSchedulesManage),
		func(ctx context.Context, in *scheduleIDIn) (*struct{}, error) {
			if err := validScheduleID(in.ID); err != nil {
				return nil, err
			}
			return nil, s.store.Write(ctx, principal(ctx).Scope(), func(tx domain.Tx) error {
				sc, err := tx.GetSchedule(in.ID)
				if err != nil {
					return err
				}
				if err := tx.DeleteSchedule(in.ID); err != nil {
					return err
				}
				tx.Audit(auditEvent(ctx, "schedule.deleted", "schedule", in.ID, map[string]any{"workflow_id": sc.WorkflowID}))
				return nil
			})
		})

	type schedulePreviewIn struct {
		ID    string `path:"id" maxLength:"64"`
		Count int    `query:"count" minimum:"1" maximum:"100" default:"5"`
	}
	type schedulePreviewOut struct {
		Body struct {
			CronExpression string    `json:"cron_expression"`
			Timezone       string    `json:"timezone"`
			Runs           []RunTime `json:"runs"`
		}
	}
	register(s, huma.Operation{OperationID: "preview-schedule", Method: http.MethodGet, Path: "/api/v1/schedules/{id}/preview",
		Tags: tags, Summary: "The next run times of a schedule (five by default)"}, Requires(domain.PermSchedulesRead),
		func(ctx context.Context, in *schedulePreviewIn) (*schedulePreviewOut, error) {
			if err := validScheduleID(in.ID); err != nil {
				return nil, err
			}
			var sc *domain.Schedule
			err := s.store.Read(ctx, principal(ctx).Scope(), func(q domain.Queries) (err error) {
				sc, err = q.GetSchedule(in.ID)
				return err
			})
			if err != nil {
				return nil, err
			}
			sched, problems := parseSchedule(sc.CronExpression, sc.Timezone)
			if len(problems) > 0 {
				return nil, invalidSchedule(problems)
			}
			out := &schedulePreviewOut{}
			out.Body.CronExpression, out.Body.Timezone = sc.CronExpression, sc.Timezone
			out.Body.Runs = runTimes(sched, time.Now(), in.Count)
			return out, nil
		})

	type cronPreviewIn struct {
		CronExpression string    `query:"cron_expression" maxLength:"128" required:"true" example:"0 9 * * 1-5"`
		Timezone       string    `query:"timezone" maxLength:"64" doc:"Default UTC"`
		Count          int       `query:"count" minimum:"1" maximum:"100" default:"5"`
		After          time.Time `query:"after" doc:"List runs after this instant (RFC 3339); default now"`
	}
	register(s, huma.Operation{OperationID: "preview-cron", Method: http.MethodGet, Path: "/api/v1/schedules/preview",
		Tags: tags, Summary: "Check a cron expression and zone and list their next run times, before saving",
		Errors: []int{http.StatusUnprocessableEntity}}, Requires(domain.PermSchedulesRead),
		func(ctx context.Context, in *cronPreviewIn) (*schedulePreviewOut, error) {
			tz := in.Timezone
			if tz == "" {
				tz = "UTC"
			}
			sched, problems := parseSchedule(in.CronExpression, tz)
			if len(problems) > 0 {
				for i := range problems { // the parameters are in the query, not a body
					problems[i].Pointer = "query." + strings.TrimPrefix(problems[i].Pointer, "/")
				}
				return nil, invalidSchedule(problems)
			}
			after := in.After
			if after.IsZero() {
				after = time.Now()
			}
			out := &schedulePreviewOut{}
			out.Body.CronExpression, out.Body.Timezone = sched.String(), tz
			out.Body.Runs = runTimes(sched, after, in.Count)
			return out, nil
		})
}

// rawInput stores an absent input as JSON null.
func rawInput(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("null")
	}
	return raw
}
