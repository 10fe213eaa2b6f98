package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/superagent-hq/superagent/internal/store/pgadmin"
)

// pgStats reads the dedicated database's statistics through the admin
// connection (which is connected to another database, so reading them
// adds no commits to the one measured).
type pgStats struct {
	admin   *pgadmin.Admin
	name    string
	version string
}

// createPostgres creates a dedicated database owned by the owner role
// (creating the roles when missing) and returns how to drop it.
func createPostgres(ctx context.Context, adminURL string) (*pgStats, Database, func() error, error) {
	admin, err := pgadmin.Open(ctx, adminURL)
	if err != nil {
		return nil, Database{}, nil, err
	}
	name := pgadmin.RandomName("sa_bench_")
	if err := admin.CreateDatabase(ctx, name, ""); err != nil {
		admin.Close()
		return nil, Database{}, nil, err
	}
	st := &pgStats{admin: admin, name: name}
	_ = admin.DB().QueryRowContext(ctx, "SHOW server_version").Scan(&st.version)
	st.version = "PostgreSQL " + st.version
	db := Database{Kind: Postgres, Name: name, URL: admin.DSN(pgadmin.AppRole, name), MigrateURL: admin.DSN(pgadmin.OwnerRole, name)}
	drop := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		defer admin.Close()
		return admin.DropDatabase(ctx, name)
	}
	return st, db, drop, nil
}

// quiescentCommits waits until no session is connected to the database
// (every backend flushes its statistics when it exits) and returns its
// committed transactions so far.
func (p *pgStats) quiescentCommits(ctx context.Context) (int64, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		var n int
		if err := p.admin.DB().QueryRowContext(ctx, "SELECT count(*) FROM pg_stat_activity WHERE datname = $1", p.name).Scan(&n); err != nil {
			return 0, err
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%d sessions still connected to %s", n, p.name)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A backend leaves pg_stat_activity just before its last statistics
	// flush: read until two readings agree.
	prev := int64(-1)
	for range 40 {
		var c int64
		if err := p.admin.DB().QueryRowContext(ctx, "SELECT xact_commit FROM pg_stat_database WHERE datname = $1", p.name).Scan(&c); err != nil {
			return 0, err
		}
		if c == prev {
			return c, nil
		}
		prev = c
		time.Sleep(150 * time.Millisecond)
	}
	return 0, errors.New("the commit counter did not settle")
}

// waitSampler samples what the dedicated database's sessions are doing.
type waitSampler struct {
	mu      sync.Mutex
	samples int
	counts  map[string]int // "state / wait_event_type:wait_event" → sessions seen
	done    chan struct{}
	stopped chan struct{}
}

// sampleWaits reads pg_stat_activity every interval until stop: where the
// time of a database-bound workload goes (running, waiting for a row lock,
// idle in a transaction while the application works, idle).
func (p *pgStats) sampleWaits(ctx context.Context, interval time.Duration) *waitSampler {
	w := &waitSampler{counts: map[string]int{}, done: make(chan struct{}), stopped: make(chan struct{})}
	go func() {
		defer close(w.stopped)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-w.done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			rows, err := p.admin.DB().QueryContext(ctx, `SELECT coalesce(state, ''), coalesce(wait_event_type, ''),
				coalesce(wait_event, ''), count(*) FROM pg_stat_activity WHERE datname = $1 GROUP BY 1, 2, 3`, p.name)
			if err != nil {
				continue
			}
			w.mu.Lock()
			w.samples++
			for rows.Next() {
				var state, typ, ev string
				var n int
				if rows.Scan(&state, &typ, &ev, &n) == nil {
					key := state
					if typ != "" {
						key += " / " + typ + ":" + ev
					}
					w.counts[key] += n
				}
			}
			w.mu.Unlock()
			rows.Close()
		}
	}()
	return w
}

// stop ends sampling and returns the average number of sessions in each
// state over the samples.
func (w *waitSampler) stop() map[string]float64 {
	close(w.done)
	<-w.stopped
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]float64{}
	for k, n := range w.counts {
		out[k] = math.Round(float64(n)/float64(max(w.samples, 1))*100) / 100
	}
	return out
}
