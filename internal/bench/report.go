package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is everything a run measured.
type Report struct {
	StartedAt time.Time       `json:"started_at"`
	Seconds   float64         `json:"seconds"`
	Quick     bool            `json:"quick"`
	Scenarios []string        `json:"scenarios,omitempty"` // empty: all
	Sizes     Sizes           `json:"-"`
	Machine   Machine         `json:"machine"`
	Databases []*DatabaseInfo `json:"databases"`
	Results   []Result        `json:"results"`
}

// Settings returns the sizes with durations as text, for the JSON file.
func (rep *Report) Settings() map[string]any {
	s := rep.Sizes
	return map[string]any{"baseline_jobs": s.BaselineJobs, "chain_executions": s.ChainExecutions, "chain_length": s.ChainLength,
		"fanout_executions": s.FanoutExecutions, "fanout_width": s.FanoutWidth, "submitters": s.Submitters,
		"handoff_chains": s.HandoffChains, "handoff_length": s.HandoffLength, "api_duration": s.APIDuration.String(),
		"api_concurrency": s.APIConcurrency, "storm_rate": s.StormRate, "storm_logins": stormLogins(s), "storm_duration": s.StormDuration.String(),
		"memory_executions": s.MemoryExecutions, "memory_latency": s.MemoryLatency.String(), "warmup": s.Warmup.String(), "orgs": s.Orgs}
}

// MarshalJSON adds the settings.
func (rep *Report) MarshalJSON() ([]byte, error) {
	type plain Report
	return json.Marshal(struct {
		*plain
		Settings map[string]any `json:"settings"`
	}{(*plain)(rep), rep.Settings()})
}

// DatabaseInfo describes a database a run used.
type DatabaseInfo struct {
	Kind        string `json:"kind"`
	Version     string `json:"version"`
	Name        string `json:"name,omitempty"` // the dedicated PostgreSQL database (dropped after the run)
	StepWorkers int    `json:"step_workers,omitempty"`
}

// Machine describes where the run happened.
type Machine struct {
	CPUs       int        `json:"cpus"`
	GOMAXPROCS int        `json:"gomaxprocs"`
	CPUModel   string     `json:"cpu_model,omitempty"`
	MemoryMiB  int        `json:"memory_mib,omitempty"`
	OS         string     `json:"os"`
	Kernel     string     `json:"kernel,omitempty"`
	GoVersion  string     `json:"go_version"`
	LoadBefore [3]float64 `json:"load_average_before"`
	LoadAfter  [3]float64 `json:"load_average_after"`
}

func describeMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0), OS: runtime.GOOS + "/" + runtime.GOARCH,
		GoVersion: runtime.Version(), LoadBefore: loadAverage()}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	m.CPUModel = procField("/proc/cpuinfo", "model name")
	if v := procField("/proc/meminfo", "MemTotal"); v != "" {
		var kb int
		if _, err := fmt.Sscanf(v, "%d", &kb); err == nil {
			m.MemoryMiB = kb / 1024
		}
	}
	return m
}

// procField returns the value of the first "name: value" line of a /proc file.
func procField(path, name string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func loadAverage() [3]float64 {
	var l [3]float64
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		_, _ = fmt.Sscanf(string(b), "%f %f %f", &l[0], &l[1], &l[2])
	}
	return l
}

// Result is one measured figure.
type Result struct {
	Database string  `json:"database"`
	Scenario int     `json:"scenario"`
	Key      string  `json:"key"`
	Name     string  `json:"name"`
	Value    float64 `json:"value"`
	Unit     string  `json:"unit"`
	// Baseline is what Value is compared with, measured in the same run;
	// Ratio is Value / Baseline.Value.
	Baseline *Baseline      `json:"baseline,omitempty"`
	Ratio    *float64       `json:"ratio,omitempty"`
	Bar      *Bar           `json:"bar,omitempty"`
	Met      *bool          `json:"met,omitempty"`
	Detail   map[string]any `json:"detail,omitempty"`
}

// Baseline is the figure a result is a ratio of.
type Baseline struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
}

// Bar is a goal from the issue: the value or the ratio compared with Limit.
type Bar struct {
	OnRatio bool    `json:"on_ratio"`
	AtMost  bool    `json:"at_most"` // ≤ Limit; otherwise ≥ Limit
	Limit   float64 `json:"limit"`
}

func (b *Bar) String() string {
	op := "≥"
	if b.AtMost {
		op = "≤"
	}
	what := ""
	if b.OnRatio {
		what = "ratio "
	}
	return fmt.Sprintf("%s%s %s", what, op, trimNum(b.Limit))
}

func atLeastRatio(v float64) *Bar { return &Bar{OnRatio: true, Limit: v} }
func atMostRatio(v float64) *Bar  { return &Bar{OnRatio: true, AtMost: true, Limit: v} }
func atMost(v float64) *Bar       { return &Bar{AtMost: true, Limit: v} }

// evaluate fills Ratio and Met.
func (r *Result) evaluate() {
	if r.Baseline != nil && r.Baseline.Value != 0 {
		v := r.Value / r.Baseline.Value
		r.Ratio = &v
	}
	if r.Bar == nil {
		return
	}
	x := r.Value
	if r.Bar.OnRatio {
		if r.Ratio == nil {
			return
		}
		x = *r.Ratio
	}
	met := x >= r.Bar.Limit
	if r.Bar.AtMost {
		met = x <= r.Bar.Limit
	}
	r.Met = &met
}

// PrintTable writes the results as an aligned table.
func (rep *Report) PrintTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "db\t#\tmeasure\tvalue\tbaseline (same run)\tratio\tbar\t")
	for _, r := range rep.Results {
		base, rat, bar := "", "", ""
		if r.Baseline != nil {
			base = fmt.Sprintf("%s %s %s", r.Baseline.Name, fmtNum(r.Baseline.Value), r.Baseline.Unit)
		}
		if r.Ratio != nil {
			rat = fmt.Sprintf("%.3f", *r.Ratio)
		}
		if r.Bar != nil {
			bar = r.Bar.String()
			if r.Met != nil {
				if *r.Met {
					bar += " met"
				} else {
					bar += " MISSED"
				}
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s %s\t%s\t%s\t%s\t\n", r.Database, r.Scenario, r.Name, fmtNum(r.Value), r.Unit, base, rat, bar)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	m := rep.Machine
	_, err := fmt.Fprintf(w, "\nmachine: %d CPUs (GOMAXPROCS %d) %s, %d MiB, %s %s, %s; load average %.2f before, %.2f after; %.0fs\n",
		m.CPUs, m.GOMAXPROCS, m.CPUModel, m.MemoryMiB, m.OS, m.Kernel, m.GoVersion, m.LoadBefore[0], m.LoadAfter[0], rep.Seconds)
	return err
}

// fmtNum prints a figure with sensible precision.
func fmtNum(v float64) string {
	switch a := abs(v); {
	case a >= 1000:
		return fmt.Sprintf("%.0f", v)
	case a >= 100:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3f", v)
}

func trimNum(v float64) string {
	s := fmt.Sprintf("%.3f", v)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}
