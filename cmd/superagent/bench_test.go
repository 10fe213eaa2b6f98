package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBenchQuickSQLite runs `superagent bench --quick` on SQLite with
// every scenario at its smallest, so the harness itself keeps working. It
// checks that each scenario reported its figures with their baselines, and
// never how fast anything was.
func TestBenchQuickSQLite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "bench-results.json")
	var stdout, stderr bytes.Buffer
	root := newRootCommand(strings.NewReader(""), &stdout, &stderr, []string{"PASSWORD_HASH_PROFILE=test"})
	root.SetArgs([]string{"bench", "--env-file", filepath.Join(dir, "absent.env"), "--quick", "--db", "sqlite",
		"--memory-in-process", "--quiet", "--out", out, "--baseline-jobs", "50", "--chain-executions", "4",
		"--chain-length", "2", "--fanout-executions", "2", "--fanout-width", "2", "--handoff-length", "2",
		"--api-duration", "200ms", "--storm-duration", "400ms", "--storm-rate", "20", "--memory-executions", "5", "--memory-latency", "50ms", "--orgs", "2"})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := root.ExecuteContext(ctx); err != nil {
		t.Fatalf("bench: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Machine struct {
			CPUs int `json:"cpus"`
		} `json:"machine"`
		Settings  map[string]any `json:"settings"`
		Databases []struct {
			Kind string `json:"kind"`
		} `json:"databases"`
		Results []struct {
			Database string   `json:"database"`
			Scenario int      `json:"scenario"`
			Key      string   `json:"key"`
			Value    float64  `json:"value"`
			Ratio    *float64 `json:"ratio"`
		} `json:"results"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("results file: %v\n%s", err, b)
	}
	if rep.Machine.CPUs == 0 || len(rep.Databases) != 1 || rep.Databases[0].Kind != "sqlite" || rep.Settings["chain_length"] != 2.0 {
		t.Errorf("report header: %s", b)
	}
	got := map[string]bool{}
	for _, r := range rep.Results {
		if r.Database != "sqlite" {
			t.Errorf("%s measured on %q", r.Key, r.Database)
		}
		if r.Value <= 0 {
			t.Errorf("%s: value %v", r.Key, r.Value)
		}
		got[r.Key] = r.Ratio != nil
	}
	// Every scenario but 4 (commits, PostgreSQL only), each with a
	// same-run baseline where the issue asks for a ratio.
	for key, wantRatio := range map[string]bool{
		"river_jobs_per_sec": false, "engine_chain_steps_per_sec": true, "engine_fanout_steps_per_sec": true,
		"engine_chain_orgs_steps_per_sec": true, "handoff_p50_ms": true, "handoff_p99_ms": true, "api_rps": true, "api_p99_ms": true, "storm_p99_ms": true,
		"rss_idle_mib": true, "rss_inflight_mib": true,
	} {
		hasRatio, ok := got[key]
		if !ok {
			t.Errorf("no result %s", key)
		} else if wantRatio && !hasRatio {
			t.Errorf("%s has no ratio to a baseline", key)
		}
	}
	if _, ok := got["commits_per_step_chain"]; ok {
		t.Error("commits per step reported on SQLite, which has no commit counter")
	}
	for _, want := range []string{"engine steps/s", "River alone", "hand-off p50", "machine:"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, stdout.String())
		}
	}
}
