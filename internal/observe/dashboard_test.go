package observe_test

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/observe"
	"github.com/superagent-hq/superagent/internal/observe/sentrytest"
	"github.com/superagent-hq/superagent/internal/queue"
	"github.com/superagent-hq/superagent/internal/store/dbtest"
	"github.com/superagent-hq/superagent/internal/store/sqlstore"
)

// TestMonitoringFilesUseExposedMetrics: every metric the shipped Grafana
// dashboard and Prometheus alerting rules (docs/monitoring) query is one a
// process exposes, and every label they group or match on is one of that
// metric's labels, so renaming a metric or a label breaks this test rather
// than an operator's dashboard.
func TestMonitoringFilesUseExposedMetrics(t *testing.T) {
	t.Parallel()
	exposed := exposedMetrics(t)

	var exprs []string
	raw, err := os.ReadFile("../../docs/monitoring/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	if dash.UID == "" || len(dash.Panels) == 0 {
		t.Fatal("the dashboard has no uid or no panels")
	}
	for _, p := range dash.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q queries nothing", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	rules, err := os.ReadFile("../../docs/monitoring/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, block := range regexp.MustCompile(`(?m)^\s+expr: (\|\n((?:\s{10,}.*\n)+)|(.*)\n)`).FindAllStringSubmatch(string(rules), -1) {
		exprs = append(exprs, block[2]+block[3])
		n++
	}
	if n != strings.Count(string(rules), "- alert:") {
		t.Fatalf("read %d expressions from %d alerts", n, strings.Count(string(rules), "- alert:"))
	}

	metricName := regexp.MustCompile(`\b(?:superagent|go|process)_[a-z_]+\b`)
	grouping := regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
	matcher := regexp.MustCompile(`([a-z_]+)\s*(?:=~|!~|!=|=)\s*"`)
	for _, expr := range exprs {
		names := metricName.FindAllString(expr, -1)
		if len(names) == 0 && !strings.Contains(expr, "up{") {
			t.Errorf("%q queries none of our metrics", expr)
		}
		labels := map[string]bool{"le": true, "instance": true, "job": true}
		for _, name := range names {
			got, ok := exposed[name]
			if !ok {
				t.Errorf("%q: no process exposes %s", expr, name)
				continue
			}
			for l := range got {
				labels[l] = true
			}
		}
		for _, g := range grouping.FindAllStringSubmatch(expr, -1) {
			for _, l := range strings.Split(g[1], ",") {
				if l = strings.TrimSpace(l); l != "" && !labels[l] {
					t.Errorf("%q groups by %s, which its metrics do not carry", expr, l)
				}
			}
		}
		for _, m := range matcher.FindAllStringSubmatch(expr, -1) {
			if !labels[m[1]] {
				t.Errorf("%q matches on %s, which its metrics do not carry", expr, m[1])
			}
		}
	}
}

// exposedMetrics gathers everything a serve process exposes (with the
// database's figures and error tracking on), by series name, with each
// name's labels; a histogram also answers to its _bucket, _sum and
// _count series.
func exposedMetrics(t *testing.T) map[string]map[string]bool {
	t.Helper()
	s := dbtest.Open(t, dbtest.New(t, sqlstore.KindSQLite))
	m := observe.NewMetrics(observe.MetricsOptions{Store: s, Version: "test", Queues: append([]string{queue.QueueDefault}, queue.StepQueues()...)})
	m.ObserveRequest("GET", "/api/v1/workflows/{id}", 200, time.Millisecond)
	r, err := observe.NewReporter(observe.ReporterOptions{DSN: sentrytest.NewServer(t).DSN(), Release: "test", Environment: "test"})
	if err != nil {
		t.Fatal(err)
	}
	m.Registry().MustRegister(r.Collector())
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]bool{}
	for _, f := range families {
		labels := map[string]bool{}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				labels[l.GetName()] = true
			}
		}
		out[f.GetName()] = labels
		if f.GetType().String() == "HISTOGRAM" || f.GetType().String() == "SUMMARY" {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				out[f.GetName()+suffix] = labels
			}
		}
	}
	return out
}
