package observe

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river/rivertype"

	"github.com/superagent-hq/superagent/internal/domain"
)

// Every status is reported, zero or not, so a series never vanishes when
// its count drops to nothing.
var (
	executionStatuses = []domain.ExecutionStatus{domain.ExecutionPending, domain.ExecutionRunning,
		domain.ExecutionSucceeded, domain.ExecutionFailed, domain.ExecutionCancelled}
	stepStatuses = []domain.StepStatus{domain.StepWaiting, domain.StepQueued, domain.StepRunning,
		domain.StepCompleted, domain.StepFailed, domain.StepSkipped, domain.StepCancelled}
)

// storeCollector reads the database's figures when Prometheus scrapes, in
// the system scope (reason "metrics"), through the store's one monitoring
// method. One reading serves scrapes for MinInterval.
type storeCollector struct {
	store       domain.Store
	log         *slog.Logger
	window      time.Duration
	minInterval time.Duration
	timeout     time.Duration
	queues      []string

	mu       sync.Mutex
	readAt   time.Time
	counts   *domain.OperationalCounts
	readErr  error
	readTook time.Duration

	executions, steps, jobs, up, took *prometheus.Desc
}

func newStoreCollector(o MetricsOptions) *storeCollector {
	c := &storeCollector{store: o.Store, log: o.Log, window: o.Window, minInterval: o.MinInterval, timeout: o.QueryTimeout,
		queues: o.Queues}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.window <= 0 {
		c.window = time.Hour
	}
	if c.minInterval <= 0 {
		c.minInterval = 5 * time.Second
	}
	if c.timeout <= 0 {
		c.timeout = 5 * time.Second
	}
	c.executions = prometheus.NewDesc("superagent_executions_recent",
		"Executions created in the last hour (installation-wide), by status.", []string{"status"}, nil)
	c.steps = prometheus.NewDesc("superagent_execution_steps_recent",
		"Steps of the executions created in the last hour (installation-wide), by status.", []string{"status"}, nil)
	c.jobs = prometheus.NewDesc("superagent_queue_jobs",
		"Jobs in the job queue's table by queue and River state; available and retryable are the backlog.", []string{"queue", "state"}, nil)
	c.up = prometheus.NewDesc("superagent_database_scrape_success",
		"1 when the database figures of this scrape were read, 0 when reading them failed.", nil, nil)
	c.took = prometheus.NewDesc("superagent_database_scrape_duration_seconds",
		"How long reading the database figures took.", nil, nil)
	return c
}

// Describe implements prometheus.Collector.
func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.executions
	ch <- c.steps
	ch <- c.jobs
	ch <- c.up
	ch <- c.took
}

// read returns the current figures, reading the database at most once per
// minInterval.
func (c *storeCollector) read() (*domain.OperationalCounts, time.Duration, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.readAt.IsZero() && time.Since(c.readAt) < c.minInterval {
		return c.counts, c.readTook, c.readErr
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	start := time.Now()
	var counts *domain.OperationalCounts
	err := c.store.Read(ctx, domain.SystemScope(domain.SystemMetrics), func(q domain.Queries) error {
		var err error
		counts, err = q.OperationalCounts(start.Add(-c.window))
		return err
	})
	c.readAt, c.counts, c.readErr, c.readTook = time.Now(), counts, err, time.Since(start)
	if err != nil {
		c.log.Warn("metrics: reading the database figures failed", "error", err)
	}
	return c.counts, c.readTook, c.readErr
}

// Collect implements prometheus.Collector.
func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	counts, took, err := c.read()
	ch <- prometheus.MustNewConstMetric(c.took, prometheus.GaugeValue, took.Seconds())
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)

	exe := map[string]int64{}
	for _, s := range executionStatuses {
		exe[string(s)] = 0
	}
	for s, n := range counts.ExecutionsByStatus {
		exe[string(s)] = n
	}
	for s, n := range exe {
		ch <- prometheus.MustNewConstMetric(c.executions, prometheus.GaugeValue, float64(n), s)
	}

	steps := map[string]int64{}
	for _, s := range stepStatuses {
		steps[string(s)] = 0
	}
	for s, n := range counts.StepsByStatus {
		steps[string(s)] = n
	}
	for s, n := range steps {
		ch <- prometheus.MustNewConstMetric(c.steps, prometheus.GaugeValue, float64(n), s)
	}

	type key struct{ queue, state string }
	jobs := map[key]int64{}
	for _, q := range c.queues {
		for _, s := range rivertype.JobStates() {
			jobs[key{q, string(s)}] = 0
		}
	}
	for _, j := range counts.Jobs {
		jobs[key{j.Queue, j.State}] = j.Count
	}
	for k, n := range jobs {
		ch <- prometheus.MustNewConstMetric(c.jobs, prometheus.GaugeValue, float64(n), k.queue, k.state)
	}
}
