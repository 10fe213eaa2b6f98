package observe_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/observe"
	"github.com/superagent-hq/superagent/internal/queue"
	"github.com/superagent-hq/superagent/internal/store/dbtest"
	"github.com/superagent-hq/superagent/internal/store/storetest"
)

// gather returns every sample of the registry as "name{l1=v1,…}" → value.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			key := f.GetName() + "{" + strings.Join(labels, ",") + "}"
			switch f.GetType() {
			case dto.MetricType_GAUGE:
				out[key] = m.GetGauge().GetValue()
			case dto.MetricType_COUNTER:
				out[key] = m.GetCounter().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[key] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

// TestDatabaseFiguresAtScrapeTime counts executions of the last hour and
// their steps by status, and the queue's jobs by queue and state, across
// organizations, on both databases; older executions are left out, and
// every status is present even at zero.
func TestDatabaseFiguresAtScrapeTime(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db dbtest.DB) {
		t.Parallel()
		ctx := context.Background()
		s := dbtest.Open(t, db)
		now := time.Now().UTC()
		for _, org := range []string{"metrics-a", "metrics-b"} {
			f := storetest.NewFixture(t, s, org)
			scope := domain.OrgScope(f.Org.ID)
			wf := storetest.NewWorkflow(t, s, scope, f.Admin.ID, "", "counted")
			exes := []struct {
				status  domain.ExecutionStatus
				created time.Time
				steps   []domain.StepStatus
			}{
				{domain.ExecutionSucceeded, now.Add(-time.Minute), []domain.StepStatus{domain.StepCompleted, domain.StepCompleted}},
				{domain.ExecutionFailed, now.Add(-10 * time.Minute), []domain.StepStatus{domain.StepCompleted, domain.StepFailed, domain.StepSkipped}},
				{domain.ExecutionRunning, now.Add(-30 * time.Second), []domain.StepStatus{domain.StepRunning, domain.StepWaiting}},
				{domain.ExecutionSucceeded, now.Add(-3 * time.Hour), []domain.StepStatus{domain.StepCompleted}}, // outside the hour
			}
			err := s.Write(ctx, scope, func(tx domain.Tx) error {
				for _, e := range exes {
					exe := &domain.Execution{ID: domain.NewID(domain.PrefixExecution), WorkflowID: wf.ID, WorkflowVersion: 1,
						Status: e.status, Trigger: domain.TriggerManual, Input: []byte(`{}`), CreatedAt: e.created}
					if err := tx.CreateExecution(exe); err != nil {
						return err
					}
					var steps []domain.Step
					for i, st := range e.steps {
						steps = append(steps, domain.Step{ExecutionID: exe.ID, NodeID: string(rune('a' + i)), NodeType: domain.NodeTransform, Status: st})
					}
					if err := tx.CreateSteps(steps); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		q, err := queue.New(ctx, queue.Options{Kind: db.Kind, DB: s.DB(), InsertOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		for range 3 {
			if _, err := q.Client.Insert(ctx, queue.PingArgs{Note: "backlog"}, nil); err != nil {
				t.Fatal(err)
			}
		}

		m := observe.NewMetrics(observe.MetricsOptions{Store: s, Version: "test", Queues: []string{queue.QueueDefault, queue.QueueSteps}})
		got := gather(t, m.Registry())
		want := map[string]float64{
			"superagent_executions_recent{status=succeeded}":       2,
			"superagent_executions_recent{status=failed}":          2,
			"superagent_executions_recent{status=running}":         2,
			"superagent_executions_recent{status=pending}":         0,
			"superagent_executions_recent{status=cancelled}":       0,
			"superagent_execution_steps_recent{status=completed}":  6,
			"superagent_execution_steps_recent{status=failed}":     2,
			"superagent_execution_steps_recent{status=skipped}":    2,
			"superagent_execution_steps_recent{status=running}":    2,
			"superagent_execution_steps_recent{status=waiting}":    2,
			"superagent_execution_steps_recent{status=queued}":     0,
			"superagent_queue_jobs{queue=default,state=available}": 3,
			"superagent_queue_jobs{queue=steps,state=available}":   0,
			"superagent_queue_jobs{queue=default,state=discarded}": 0,
			"superagent_database_scrape_success{}":                 1,
			"superagent_build_info{version=test}":                  1,
			"go_goroutines{}":                                      -2, // present
		}
		for k, v := range want {
			g, ok := got[k]
			switch {
			case v == -2 && !ok:
				t.Errorf("%s is missing", k)
			case v >= 0 && (!ok || g != v):
				t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
			}
		}
	})
}

// TestDatabaseFailureIsAFigureNotAnOutage: when the database cannot be
// read, the scrape still answers, with success 0 and no stale counts.
func TestDatabaseFailureIsAFigureNotAnOutage(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t, "sqlite")
	s := dbtest.Open(t, db)
	s.Close()
	m := observe.NewMetrics(observe.MetricsOptions{Store: s})
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), "superagent_database_scrape_success 0") ||
		strings.Contains(string(body), "superagent_executions_recent") || !strings.Contains(string(body), "go_goroutines") {
		t.Errorf("scrape with the database closed = %d:\n%s", res.StatusCode, body)
	}
}

// TestRequestsAreLabelledByPatternOnly: methods outside the known set and
// unmatched routes collapse into fixed label values.
func TestRequestsAreLabelledByPatternOnly(t *testing.T) {
	t.Parallel()
	m := observe.NewMetrics(observe.MetricsOptions{})
	m.ObserveRequest("GET", "/api/v1/workflows/{id}", 200, 3*time.Millisecond)
	m.ObserveRequest("GET", "/api/v1/workflows/{id}", 200, 5*time.Millisecond)
	m.ObserveRequest("BREW", "", 0, time.Millisecond)
	got := gather(t, m.Registry())
	if got["superagent_http_request_duration_seconds{method=GET,route=/api/v1/workflows/{id},status=200}"] != 2 {
		t.Errorf("pattern-labelled requests: %v", got)
	}
	if got["superagent_http_request_duration_seconds{method=OTHER,route=unmatched,status=200}"] != 1 {
		t.Errorf("an unknown method on no route: %v", got)
	}
}
