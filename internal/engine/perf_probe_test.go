package engine_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
)

// TestPerfProbe prints hand-off latency and throughput (run with PERF_PROBE=1).
func TestPerfProbe(t *testing.T) {
	if os.Getenv("PERF_PROBE") == "" {
		t.Skip("set PERF_PROBE=1")
	}
	for _, kind := range probeKinds() {
		h := newHarness(t, kind, harnessOpts{workers: probeWorkers()}).withOrg("perf")
		setLimits(t, h, 100000)
		var nodes []domain.Node
		var edges []domain.Edge
		for i := range 40 {
			nodes = append(nodes, transform(fmt.Sprintf("n%d", i), "1"))
			if i > 0 {
				edges = append(edges, edge(fmt.Sprintf("n%d", i-1), fmt.Sprintf("n%d", i)))
			}
		}
		wf := h.workflow(domain.Definition{Nodes: nodes, Edges: edges})
		exe := h.wait(h.start(wf, map[string]any{}).ID)
		steps := h.steps(exe.ID)
		var gaps []time.Duration
		for i := 1; i < 40; i++ {
			prev, cur := steps[fmt.Sprintf("n%d", i-1)], steps[fmt.Sprintf("n%d", i)]
			gaps = append(gaps, cur.StartedAt.Sub(*prev.FinishedAt))
		}
		sort.Slice(gaps, func(i, j int) bool { return gaps[i] < gaps[j] })
		t.Logf("%s: 40-step chain hand-off p50 %s p99 %s total %s", kind, gaps[len(gaps)/2], gaps[len(gaps)-1], exe.CompletedAt.Sub(*exe.StartedAt))

		// Throughput: 200 concurrent 10-node chains.
		wf10 := h.workflow(domain.Definition{Nodes: nodes[:10], Edges: edges[:9]})
		start := time.Now()
		ids := make([]string, 400)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := g; i < len(ids); i += 8 {
					ids[i] = h.start(wf10, map[string]any{}).ID
				}
			}()
		}
		wg.Wait()
		t.Logf("%s: 400 executions submitted in %s", kind, time.Since(start))
		for _, id := range ids {
			h.wait(id)
		}
		d := time.Since(start)
		t.Logf("%s: 4000 steps in %s = %.0f steps/s", kind, d, 4000/d.Seconds())
		_ = context.Background()
	}
}

func probeWorkers() int {
	var n int
	fmt.Sscan(os.Getenv("PERF_WORKERS"), &n)
	if n == 0 {
		n = 100
	}
	return n
}

func probeKinds() []string {
	if k := os.Getenv("PERF_KIND"); k != "" {
		return []string{k}
	}
	return []string{"sqlite", "postgres"}
}
