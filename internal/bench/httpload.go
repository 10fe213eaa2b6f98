package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
)

// loadStats is what a load phase measured.
type loadStats struct {
	OK         int     `json:"ok"`
	Failed     int     `json:"failed"`
	Seconds    float64 `json:"seconds"`
	PerSecond  float64 `json:"per_second"`
	Latency    Summary `json:"latency"`
	FirstError string  `json:"first_error,omitempty"`

	lat   Latencies
	errMu sync.Mutex
}

func (s *loadStats) record(d time.Duration, err error) {
	if err == nil {
		s.lat.Add(d)
		return
	}
	s.errMu.Lock()
	s.Failed++
	if s.FirstError == "" {
		s.FirstError = err.Error()
	}
	s.errMu.Unlock()
}

// merge adds other's requests to s (phases run in rounds).
func (s *loadStats) merge(other *loadStats) {
	other.lat.mu.Lock()
	for _, d := range other.lat.all {
		s.lat.Add(d)
	}
	other.lat.mu.Unlock()
	s.Failed += other.Failed
	if s.FirstError == "" {
		s.FirstError = other.FirstError
	}
	s.Seconds += other.Seconds
}

func (s *loadStats) finish() *loadStats {
	s.Latency = s.lat.Summary()
	s.OK = s.Latency.Count
	if s.Seconds > 0 {
		s.PerSecond = float64(s.OK) / s.Seconds
	}
	return s
}

// request is one request of a load phase; it returns an error unless the
// answer had the expected status and was read to the end.
type request func(ctx context.Context, c *http.Client) error

func newClient(conns int) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConns: conns * 2,
		MaxIdleConnsPerHost: conns * 2, IdleConnTimeout: time.Minute, DisableCompression: true}}
}

// closedLoop runs concurrency clients, each sending its next request as
// soon as the previous one is answered: warmup unrecorded, then duration.
func closedLoop(ctx context.Context, c *http.Client, concurrency int, warmup, duration time.Duration, do request) *loadStats {
	s := &loadStats{}
	var recording atomic.Bool
	stopAt := time.Now().Add(warmup + duration)
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && time.Now().Before(stopAt) {
				t := time.Now()
				err := do(ctx, c)
				if ctx.Err() != nil {
					return // stopped mid-request: not an answer
				}
				if recording.Load() {
					s.record(time.Since(t), err)
				}
			}
		}()
	}
	time.Sleep(warmup)
	recording.Store(true)
	start := time.Now()
	wg.Wait()
	s.Seconds = time.Since(start).Seconds()
	return s
}

// openLoop sends rate requests per second at fixed times, however slowly
// they are answered; a request's latency counts from when it was due, so
// a stalled server shows in the percentiles instead of slowing the load.
func openLoop(ctx context.Context, c *http.Client, rate int, duration time.Duration, do request) *loadStats {
	s := &loadStats{}
	interval := time.Second / time.Duration(max(rate, 1))
	start := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2000)
	for i := 0; ; i++ {
		due := start.Add(time.Duration(i) * interval)
		if due.Sub(start) >= duration || ctx.Err() != nil {
			break
		}
		time.Sleep(time.Until(due))
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			err := do(ctx, c)
			s.record(time.Since(due), err)
		}()
	}
	wg.Wait()
	s.Seconds = duration.Seconds()
	return s
}

// getJSON is a GET that must answer 200.
func getJSON(url, token string) request {
	return func(ctx context.Context, c *http.Client) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := c.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	}
}

// bareServer serves GET /workflows/{id} with the same store read as the
// API's handler (the workflow and its statistics in the principal's scope)
// but with no authentication, router, middleware or framework: net/http,
// the store and encoding/json only.
func bareServer(p *Process, scope domain.Scope) (url string, stop func(), err error) {
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		id := strings.TrimPrefix(req.URL.Path, "/workflows/")
		var wf *domain.Workflow
		err := p.Store.Read(req.Context(), scope, func(q domain.Queries) (err error) {
			if wf, err = q.GetWorkflow(id); err != nil {
				return err
			}
			stats, err := q.WorkflowStats([]string{wf.ID})
			wf.Stats = stats[wf.ID]
			return err
		})
		if domain.IsCode(err, domain.ECodeNotFound) {
			http.NotFound(w, req)
			return
		}
		if err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(wf)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }() // returns ErrServerClosed after stop
	return "http://" + ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// api compares the real API with the bare handler: same process, same
// database read, same load generator and concurrency, measured in
// alternating rounds so drift on a shared machine hits both alike.
func (r *run) api(ctx context.Context, p *Process) error {
	sz := r.o.Sizes
	pr, err := p.Authenticate(ctx, r.fx.token)
	if err != nil {
		return err
	}
	bareURL, stopBare, err := bareServer(p, pr.Scope())
	if err != nil {
		return err
	}
	defer stopBare()
	id := r.fx.workflows[wfChain]
	apiReq := getJSON(p.BaseURL+"/api/v1/workflows/"+id, r.fx.token)
	bareReq := getJSON(bareURL+"/workflows/"+id, "")
	r.logf("5 API: GET /api/v1/workflows/{id} against a bare handler, %d clients, %s each", sz.APIConcurrency, sz.APIDuration)
	stopProfile, err := r.profile("api")
	if err != nil {
		return err
	}
	defer stopProfile()
	const rounds = 2
	realStats, bareStats := &loadStats{}, &loadStats{}
	for range rounds {
		c := newClient(sz.APIConcurrency)
		realStats.merge(closedLoop(ctx, c, sz.APIConcurrency, sz.Warmup, sz.APIDuration/rounds, apiReq))
		c = newClient(sz.APIConcurrency)
		bareStats.merge(closedLoop(ctx, c, sz.APIConcurrency, sz.Warmup, sz.APIDuration/rounds, bareReq))
	}
	realStats.finish()
	bareStats.finish()
	if realStats.OK == 0 || bareStats.OK == 0 {
		return fmt.Errorf("no successful requests (API: %s; bare: %s)", realStats.FirstError, bareStats.FirstError)
	}
	detail := map[string]any{"api": realStats, "bare": bareStats, "concurrency": sz.APIConcurrency}
	r.add(Result{Scenario: 5, Key: "api_rps", Name: "API GET /api/v1/workflows/{id} (authenticated, tenant-scoped)",
		Value: realStats.PerSecond, Unit: "req/s", Baseline: &Baseline{Name: "bare net/http", Value: bareStats.PerSecond, Unit: "req/s"},
		Bar: atLeastRatio(0.6), Detail: detail})
	r.add(Result{Scenario: 5, Key: "api_p99_ms", Name: "API GET /api/v1/workflows/{id} p99", Value: realStats.Latency.P99, Unit: "ms",
		Baseline: &Baseline{Name: "bare net/http p99", Value: bareStats.Latency.P99, Unit: "ms"}})
	return nil
}

func stormLogins(sz Sizes) int {
	if sz.StormLogins > 0 {
		return sz.StormLogins
	}
	return 2 * cores()
}

// stormRounds is how many rounds the login storm's phases alternate in.
// A p99 of a phase is decided by its slowest hundredth: with 1,000 reads a
// phase (two rounds of 5 s at 100/s) the ratio of two such p99s moved
// between 1.3 and 2.2 over runs of unchanged code; four rounds take twice
// the reads.
const stormRounds = 4

// storm measures authenticated reads at a steady rate, first alone, then
// while login loops (twice the cores by default) sign in continuously.
func (r *run) storm(ctx context.Context, p *Process) error {
	sz := r.o.Sizes
	url := p.BaseURL + "/api/v1/workflows/" + r.fx.workflows[wfChain]
	get := getJSON(url, r.fx.token)
	logins := stormLogins(sz)
	r.logf("6 login storm: %d reads/s alone and beside %d login loops, %s each in %d alternating rounds", sz.StormRate, logins, sz.StormDuration, stormRounds)
	// Warm the connections and caches.
	openLoop(ctx, newClient(16), sz.StormRate, sz.Warmup, get)

	// Quiet and stormy phases alternate in rounds, so drift on a shared
	// machine (another tenant of the host, the database's background work)
	// hits both alike.
	quiet, loud, storm := &loadStats{}, &loadStats{}, &loadStats{}
	var waits *waitSampler
	if r.pg != nil {
		waits = r.pg.sampleWaits(ctx, 100*time.Millisecond)
	}
	for range stormRounds {
		quiet.merge(openLoop(ctx, newClient(16), sz.StormRate, sz.StormDuration/stormRounds, get))
		// The login loops run from a warm-up before the measured reads
		// until after them, and stop by time, so no request is cut off
		// mid-way.
		loginClient := newClient(logins)
		stormDone := make(chan *loadStats, 1)
		go func() {
			stormDone <- closedLoop(ctx, loginClient, logins, 0, sz.StormDuration/stormRounds+2*sz.Warmup, func(ctx context.Context, c *http.Client) error {
				_, err := login(ctx, c, p.BaseURL, r.fx.email, r.fx.password)
				return err
			})
		}()
		time.Sleep(sz.Warmup)
		loud.merge(openLoop(ctx, newClient(16), sz.StormRate, sz.StormDuration/stormRounds, get))
		storm.merge(<-stormDone)
	}
	quiet, loud, storm = quiet.finish(), loud.finish(), storm.finish()
	detail := map[string]any{"reads_alone": quiet, "reads_in_storm": loud, "logins": storm, "rounds": stormRounds}
	if waits != nil {
		detail["postgres_sessions_all_rounds"] = waits.stop()
	}
	if quiet.OK == 0 || loud.OK == 0 {
		return fmt.Errorf("no successful reads (alone: %s; in the storm: %s)", quiet.FirstError, loud.FirstError)
	}
	if storm.OK == 0 {
		return fmt.Errorf("no successful logins: %s", storm.FirstError)
	}
	r.add(Result{Scenario: 6, Key: "storm_p99_ms", Name: fmt.Sprintf("p99 of reads at %d/s during a login storm (%d loops)", sz.StormRate, logins),
		Value: loud.Latency.P99, Unit: "ms", Baseline: &Baseline{Name: "no storm p99", Value: quiet.Latency.P99, Unit: "ms"},
		Bar: atMostRatio(2), Detail: detail})
	r.add(Result{Scenario: 6, Key: "storm_logins_per_sec", Name: "logins/s during the storm", Value: storm.PerSecond, Unit: "logins/s"})
	return nil
}
