package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
)

// residentMiB is this process's resident memory (VmRSS) in MiB.
func residentMiB() (float64, error) { return residentOf("self") }

// residentOf is a process's resident memory in MiB (pid "self" or a number).
func residentOf(pid string) (float64, error) {
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		return 0, fmt.Errorf("resident memory is read from /proc/%s/status (Linux): %w", pid, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			var kb float64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%f kB", &kb); err != nil {
				return 0, err
			}
			return kb / 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%s/status", pid)
}

// withHelpers is this process's resident memory plus its password hash
// helpers' (they are part of what serve runs), and the helpers' alone.
func withHelpers(p *Process) (total, helpers float64, err error) {
	total, err = residentMiB()
	if err != nil || p.HelperPIDs == nil {
		return total, 0, err
	}
	for _, pid := range p.HelperPIDs() {
		if v, err := residentOf(strconv.Itoa(pid)); err == nil { // a helper may just have exited
			helpers += v
		}
	}
	return total + helpers, helpers, nil
}

// memory measures resident memory of a process wired as serve: idle after
// start, and at its peak while executions of a mock model call with
// latency are in flight. It should run in a fresh process (see
// Options.MemoryProbe), or the heap of earlier scenarios counts too.
func (r *run) memory(ctx context.Context) error {
	sz := r.o.Sizes
	if _, err := residentMiB(); err != nil {
		return err
	}
	p, err := r.start(ctx)
	if err != nil {
		return err
	}
	defer r.stop(p)
	time.Sleep(sz.IdleSettle)
	idle, idleHelpers, err := withHelpers(p)
	if err != nil {
		return err
	}
	r.logf("7 memory: idle %.1f MiB; starting %d executions of a %s mock model call", idle, sz.MemoryExecutions, sz.MemoryLatency)
	fx, err := newFixture(ctx, p, sz, wfMemory)
	if err != nil {
		return fmt.Errorf("fixtures: %w", err)
	}
	pr, err := p.Authenticate(ctx, fx.token)
	if err != nil {
		return err
	}

	var mu sync.Mutex
	peak, peakHelpers := idle, idleHelpers
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(25 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if v, h, err := withHelpers(p); err == nil {
					mu.Lock()
					if v > peak {
						peak, peakHelpers = v, h
					}
					mu.Unlock()
				}
			}
		}
	}()
	start := time.Now()
	err = submit(ctx, p, []target{{pr: pr, workflow: fx.workflows[wfMemory]}}, sz.MemoryExecutions, sz.Submitters, nil)
	submitted := time.Since(start)
	if err == nil {
		_, _, err = waitDone(ctx, p, []domain.Scope{pr.Scope()}, sz.StepTimeout)
	}
	close(stop)
	<-sampled
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	r.add(Result{Scenario: 7, Key: "rss_idle_mib", Name: "resident memory, idle after start", Value: idle, Unit: "MiB",
		Baseline: &Baseline{Name: "this process at its start", Value: r.startRSS, Unit: "MiB"}, Bar: atMost(60),
		Detail: map[string]any{"hash_helpers_mib": idleHelpers}})
	r.add(Result{Scenario: 7, Key: "rss_inflight_mib", Name: fmt.Sprintf("resident memory, peak with %d executions in flight",
		sz.MemoryExecutions), Value: peak, Unit: "MiB", Baseline: &Baseline{Name: "idle", Value: idle, Unit: "MiB"}, Bar: atMost(400),
		Detail: map[string]any{"executions": sz.MemoryExecutions, "mock_latency": sz.MemoryLatency.String(), "hash_helpers_mib": peakHelpers,
			"submit_seconds": submitted.Seconds(), "seconds": elapsed.Seconds(), "step_workers": p.StepWorkers}})
	return nil
}
