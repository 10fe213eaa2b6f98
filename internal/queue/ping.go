package queue

import (
	"context"
	"time"

	"github.com/riverqueue/river"
)

// PingArgs is the smallest job there is. `superagent queue ping` and the
// queue's round-trip test use it to prove that jobs inserted in a
// transaction are picked up and completed by a worker.
type PingArgs struct {
	Note string `json:"note,omitempty"`
}

// Kind implements river.JobArgs.
func (PingArgs) Kind() string { return "superagent.ping" }

// InsertOpts puts pings on the default queue with a single attempt.
func (PingArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDefault, MaxAttempts: 1}
}

// PingWorker completes ping jobs.
type PingWorker struct {
	river.WorkerDefaults[PingArgs]
}

// Work implements river.Worker.
func (PingWorker) Work(ctx context.Context, job *river.Job[PingArgs]) error { return nil }

// Timeout implements river.Worker.
func (PingWorker) Timeout(*river.Job[PingArgs]) time.Duration { return 5 * time.Second }
