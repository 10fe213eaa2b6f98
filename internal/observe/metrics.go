package observe

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/superagent-hq/superagent/internal/domain"
)

// MetricsOptions configure NewMetrics.
type MetricsOptions struct {
	// Store is read at scrape time for execution and queue figures; nil
	// leaves them out.
	Store   domain.Store
	Version string
	Log     *slog.Logger
	// Window is how far back executions count (default one hour).
	Window time.Duration
	// MinInterval is how long one reading of the database serves scrapes
	// (default 5 s), so many scrapers cost one query set.
	MinInterval time.Duration
	// QueryTimeout bounds one reading of the database (default 5 s).
	QueryTimeout time.Duration
	// Queues are the job queues reported even while empty.
	Queues []string
}

// Metrics is a process's metrics registry and the HTTP figures it records.
type Metrics struct {
	reg      *prometheus.Registry
	duration *prometheus.HistogramVec
}

// NewMetrics builds the registry: HTTP latency, Go runtime and process
// figures, build information and, with a store, the database's figures.
func NewMetrics(o MetricsOptions) *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{reg: reg,
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "superagent", Subsystem: "http", Name: "request_duration_seconds",
			Help: "Time to answer HTTP requests, by route pattern (never the raw path), method and status. " +
				"Its _count is the number of requests.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"method", "route", "status"}),
	}
	reg.MustRegister(m.duration,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "superagent", Name: "build_info",
			Help: "Always 1; the version label names the running release.", ConstLabels: prometheus.Labels{"version": o.Version}},
			func() float64 { return 1 }),
	)
	if o.Store != nil {
		reg.MustRegister(newStoreCollector(o))
	}
	return m
}

// Registry exposes the registry (other parts of the process may add to it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in Prometheus's text (or negotiated) format.
// A figure that cannot be read is logged and left out; the rest are served.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, Registry: m.reg})
}

// knownMethods keeps the method label's values bounded: anything else is OTHER.
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

// ObserveRequest records one answered request. route is the router's
// pattern ("/api/v1/workflows/{id}"); "" (no route matched) is recorded as
// "unmatched", so paths a client invents never become label values.
func (m *Metrics) ObserveRequest(method, route string, status int, d time.Duration) {
	if !knownMethods[method] {
		method = "OTHER"
	}
	if route == "" {
		route = "unmatched"
	}
	if status == 0 {
		status = http.StatusOK // net/http answers 200 when a handler writes nothing
	}
	m.duration.WithLabelValues(method, route, strconv.Itoa(status)).Observe(d.Seconds())
}
