package observe

import (
	"context"
	"fmt"
	"strconv"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// ErrorSink receives error reports (a *Reporter).
type ErrorSink interface {
	ReportError(err error, stack []byte, tags map[string]string)
}

// QueueErrorHandler is River's error handler: it reports a job that
// panicked, and a job whose last attempt failed (it is discarded). Earlier
// failed attempts are retried, which is ordinary work (a provider briefly
// unavailable), so they are not reported. Job arguments are never sent;
// the tags name the job kind, queue and attempt.
type QueueErrorHandler struct {
	Sink ErrorSink
}

var _ river.ErrorHandler = QueueErrorHandler{}

// HandleError implements river.ErrorHandler.
func (h QueueErrorHandler) HandleError(_ context.Context, job *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	if job.Attempt < job.MaxAttempts {
		return nil
	}
	h.Sink.ReportError(fmt.Errorf("job %s failed its last attempt: %w", job.Kind, err), nil, jobTags(job, false))
	return nil
}

// HandlePanic implements river.ErrorHandler.
func (h QueueErrorHandler) HandlePanic(_ context.Context, job *rivertype.JobRow, panicVal any, trace string) *river.ErrorHandlerResult {
	h.Sink.ReportError(fmt.Errorf("job %s panicked: %v", job.Kind, panicVal), []byte(trace), jobTags(job, true))
	return nil
}

func jobTags(job *rivertype.JobRow, panicked bool) map[string]string {
	t := map[string]string{"component": "queue", "job_kind": job.Kind, "queue": job.Queue,
		"attempt": strconv.Itoa(job.Attempt), "max_attempts": strconv.Itoa(job.MaxAttempts), "job_id": strconv.FormatInt(job.ID, 10)}
	if panicked {
		t["panic"] = "true"
	}
	return t
}
