package observe_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/superagent-hq/superagent/internal/observe"
	"github.com/superagent-hq/superagent/internal/observe/sentrytest"
	"github.com/superagent-hq/superagent/internal/queue"
	"github.com/superagent-hq/superagent/internal/store/dbtest"
)

type failArgs struct{}

func (failArgs) Kind() string { return "observe_test.fail" }

// failWorker fails every attempt and asks for its retry at once.
type failWorker struct{ river.WorkerDefaults[failArgs] }

func (failWorker) Work(context.Context, *river.Job[failArgs]) error {
	return errors.New("upstream refused carol@example.com")
}

func (failWorker) NextRetry(*river.Job[failArgs]) time.Time {
	return time.Now().Add(10 * time.Millisecond)
}

type panicArgs struct{}

func (panicArgs) Kind() string { return "observe_test.panic" }

type panicWorker struct {
	river.WorkerDefaults[panicArgs]
}

func (panicWorker) Work(context.Context, *river.Job[panicArgs]) error { panic("worker exploded") }

// TestFailedJobsAreReported runs real jobs on River through the queue's
// ErrorHandler option, on both databases: a job failing both of its two
// attempts is reported once, for its last attempt; a job that panics is
// reported with its stack.
func TestFailedJobsAreReported(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, db dbtest.DB) {
		t.Parallel()
		ctx := context.Background()
		fake := sentrytest.NewServer(t)
		r := newReporter(t, fake, observe.ReporterOptions{Throttle: -1})
		s := dbtest.Open(t, db)
		workers := river.NewWorkers()
		river.AddWorker(workers, failWorker{})
		river.AddWorker(workers, panicWorker{})
		q, err := queue.New(ctx, queue.Options{Kind: db.Kind, DB: s.DB(), ListenerDSN: db.AppDSN, Workers: workers,
			RescueAfter: time.Minute, FetchPollInterval: 100 * time.Millisecond, ErrorHandler: observe.QueueErrorHandler{Sink: r}})
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		events, cancel := q.Client.Subscribe(river.EventKindJobFailed)
		defer cancel()
		if err := q.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer func() {
			stopCtx, c := context.WithTimeout(ctx, 10*time.Second)
			defer c()
			_ = q.Stop(stopCtx)
		}()
		if _, err := q.Client.Insert(ctx, failArgs{}, &river.InsertOpts{MaxAttempts: 2}); err != nil {
			t.Fatal(err)
		}
		if _, err := q.Client.Insert(ctx, panicArgs{}, &river.InsertOpts{MaxAttempts: 1}); err != nil {
			t.Fatal(err)
		}
		failures := 0
		timeout := time.After(30 * time.Second)
		for failures < 3 { // two attempts of one job, one of the other
			select {
			case <-events:
				failures++
			case <-timeout:
				t.Fatalf("%d failed attempts seen, want 3", failures)
			}
		}
		got := wait(t, fake, 2)
		closeCtx, closeCancel := context.WithTimeout(ctx, 10*time.Second)
		defer closeCancel()
		if err := r.Close(closeCtx); err != nil {
			t.Fatal(err)
		}
		if n := len(fake.Envelopes()); n != 2 {
			t.Fatalf("%d reports, want 2 (the first of two attempts is not reported)", n)
		}
		for _, e := range got {
			ev := e.Event
			switch ev.Tags["job_kind"] {
			case "observe_test.fail":
				if ev.Tags["attempt"] != "2" || ev.Tags["max_attempts"] != "2" || ev.Tags["component"] != "queue" ||
					ev.Exception.Values[0].Value != "job observe_test.fail failed its last attempt: upstream refused [email]" {
					t.Errorf("failed job report: %+v", ev)
				}
			case "observe_test.panic":
				v := ev.Exception.Values[0]
				if v.Type != "panic" || !strings.Contains(v.Value, "worker exploded") || v.Stacktrace == nil {
					t.Fatalf("panic report: %+v", ev)
				}
				found := false
				for _, f := range v.Stacktrace.Frames {
					found = found || (f.Function == "panicWorker.Work" && f.InApp)
				}
				if !found {
					t.Errorf("the panic's stack lacks the worker's frame: %+v", v.Stacktrace.Frames)
				}
			default:
				t.Errorf("unexpected report %+v", ev)
			}
		}
	})
}
