// Package maintenance holds the installation's housekeeping jobs: purging
// deleted organizations and pruning audit rows past their retention. They
// run on the job queue, so exactly one process does each piece of work and
// a crash only delays it.
package maintenance

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/superagent-hq/superagent/internal/domain"
)

// PurgeOrgArgs purges a deactivated organization's data.
type PurgeOrgArgs struct {
	OrgID string `json:"org_id"`
}

// Kind implements river.JobArgs.
func (PurgeOrgArgs) Kind() string { return "superagent.purge_org" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (PurgeOrgArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: river.QueueDefault, MaxAttempts: 10}
}

// PurgeOrgWorker deletes an organization and, by cascade, everything it
// owns. Audit rows are not touched: they stay until their retention ends.
type PurgeOrgWorker struct {
	river.WorkerDefaults[PurgeOrgArgs]
	Store domain.Store
	Log   *slog.Logger
}

// Timeout implements river.Worker.
func (w *PurgeOrgWorker) Timeout(*river.Job[PurgeOrgArgs]) time.Duration { return 5 * time.Minute }

// Work implements river.Worker.
func (w *PurgeOrgWorker) Work(ctx context.Context, job *river.Job[PurgeOrgArgs]) error {
	err := w.Store.Write(ctx, domain.SystemScope(domain.SystemRetention), func(tx domain.Tx) error {
		o, err := tx.GetOrganization(job.Args.OrgID)
		if domain.IsCode(err, domain.ECodeNotFound) {
			return nil // already purged
		}
		if err != nil {
			return err
		}
		if o.IsActive {
			return river.JobCancel(fmt.Errorf("organization %s is active again; not purging", o.ID))
		}
		if err := tx.DeleteOrganization(o.ID); err != nil {
			return err
		}
		tx.Audit(domain.AuditEvent{OrgID: o.ID, Action: "organization.purged", ResourceType: "organization",
			ResourceID: o.ID, Success: true, Details: map[string]any{"name": o.Name}})
		return nil
	})
	if err == nil && w.Log != nil {
		w.Log.Info("organization purged", "org_id", job.Args.OrgID)
	}
	return err
}

// PruneAuditArgs prunes audit rows older than the retention period.
type PruneAuditArgs struct{}

// Kind implements river.JobArgs.
func (PruneAuditArgs) Kind() string { return "superagent.prune_audit" }

// PruneAuditWorker removes audit rows past AUDIT_RETENTION_DAYS, recording
// a checkpoint per chain so verification still passes.
type PruneAuditWorker struct {
	river.WorkerDefaults[PruneAuditArgs]
	Store     domain.Store
	Retention time.Duration
	Log       *slog.Logger
	Now       func() time.Time
}

// Timeout implements river.Worker.
func (w *PruneAuditWorker) Timeout(*river.Job[PruneAuditArgs]) time.Duration { return 10 * time.Minute }

// Work implements river.Worker.
func (w *PruneAuditWorker) Work(ctx context.Context, job *river.Job[PruneAuditArgs]) error {
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	cutoff := now().UTC().Add(-w.Retention)
	var removed int64
	err := w.Store.Write(ctx, domain.SystemScope(domain.SystemRetention), func(tx domain.Tx) error {
		var err error
		removed, err = tx.PruneAudit(cutoff)
		return err
	})
	if err == nil && w.Log != nil && removed > 0 {
		w.Log.Info("audit rows pruned", "removed", removed, "older_than", cutoff)
	}
	return err
}

// PeriodicJobs are the daily housekeeping jobs (run by the elected leader).
func PeriodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(24*time.Hour), func() (river.JobArgs, *river.InsertOpts) {
			return PruneAuditArgs{}, &river.InsertOpts{Queue: river.QueueDefault, UniqueOpts: river.UniqueOpts{ByPeriod: time.Hour}}
		}, &river.PeriodicJobOpts{RunOnStart: true}),
	}
}
