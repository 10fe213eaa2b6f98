package observe

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// DSN is a parsed Sentry DSN: https://PUBLIC_KEY[:SECRET]@HOST[/PREFIX]/PROJECT_ID.
type DSN struct {
	PublicKey string
	SecretKey string // legacy DSNs only
	ProjectID string
	// Endpoint is where envelopes go: https://HOST[/PREFIX]/api/PROJECT_ID/envelope/.
	Endpoint string
}

// ParseDSN parses a Sentry DSN. Its errors never repeat the DSN.
func ParseDSN(raw string) (*DSN, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("the Sentry DSN is not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, errors.New("the Sentry DSN must be an http(s) URL")
	}
	if u.User == nil || u.User.Username() == "" {
		return nil, errors.New("the Sentry DSN has no public key")
	}
	if u.Host == "" {
		return nil, errors.New("the Sentry DSN has no host")
	}
	path := strings.TrimSuffix(u.Path, "/")
	slash := strings.LastIndex(path, "/")
	project := path[slash+1:]
	if project == "" || strings.Trim(project, "0123456789") != "" {
		return nil, errors.New("the Sentry DSN must end with the numeric project id")
	}
	d := &DSN{PublicKey: u.User.Username(), ProjectID: project}
	d.SecretKey, _ = u.User.Password()
	d.Endpoint = (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: path[:slash] + "/api/" + project + "/envelope/"}).String()
	return d, nil
}

// authHeader is the X-Sentry-Auth header for this DSN.
func (d *DSN) authHeader(client string) string {
	h := "Sentry sentry_version=7, sentry_client=" + client + ", sentry_key=" + d.PublicKey
	if d.SecretKey != "" {
		h += ", sentry_secret=" + d.SecretKey
	}
	return h
}

// ReporterOptions configure NewReporter.
type ReporterOptions struct {
	DSN         string
	Release     string // the version; events carry "superagent@<Release>"
	Environment string
	// BufferSize is how many events may wait to be sent (default 64);
	// beyond it new events are dropped.
	BufferSize int
	// Throttle sends at most one event per kind of error (route or job kind,
	// status and message shape) in this period (default one minute; negative: off).
	Throttle time.Duration
	// Client sends the envelopes (default: a client with a 10 s timeout).
	Client *http.Client
	Log    *slog.Logger
}

// Reporter sends error events to Sentry's envelope endpoint. ReportError
// never blocks: events wait in a bounded buffer for one sender goroutine
// and are dropped when it is full, while Sentry asks us to back off
// (429), or when they repeat an event sent within the throttle period.
type Reporter struct {
	dsn      *DSN
	release  string
	env      string
	client   *http.Client
	log      *slog.Logger
	throttle time.Duration

	events chan *event
	stop   chan struct{}
	done   chan struct{}
	start  sync.Once
	closed atomic.Bool

	mu        sync.Mutex
	lastSent  map[string]time.Time // grouping key → last accepted
	pauseTill time.Time            // Sentry's rate limit

	sent, dropped, failed atomic.Int64
}

// NewReporter parses the DSN and prepares a reporter; Start runs its sender.
func NewReporter(o ReporterOptions) (*Reporter, error) {
	dsn, err := ParseDSN(o.DSN)
	if err != nil {
		return nil, err
	}
	if o.BufferSize <= 0 {
		o.BufferSize = 64
	}
	if o.Throttle == 0 {
		o.Throttle = time.Minute
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Release == "" {
		o.Release = "dev"
	}
	return &Reporter{dsn: dsn, release: "superagent@" + o.Release, env: o.Environment, client: o.Client, log: o.Log,
		throttle: o.Throttle, events: make(chan *event, o.BufferSize), stop: make(chan struct{}), done: make(chan struct{}),
		lastSent: map[string]time.Time{}}, nil
}

// Start runs the sender goroutine (once).
func (r *Reporter) Start() {
	r.start.Do(func() { go r.run() })
}

// Close stops accepting events and sends those already queued until ctx
// ends; what is left then is dropped.
func (r *Reporter) Close(ctx context.Context) error {
	if r.closed.Swap(true) {
		return nil
	}
	r.Start() // a reporter never started still delivers what it queued
	close(r.stop)
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("error reports not sent before shutdown: %w", ctx.Err())
	}
}

// Stats returns how many events were sent, dropped (buffer full, throttled,
// rate-limited or after Close) and failed to send.
func (r *Reporter) Stats() (sent, dropped, failed int64) {
	return r.sent.Load(), r.dropped.Load(), r.failed.Load()
}

// ReportError queues an error event. tags are safe labels (request id,
// route pattern, method, status, job kind…); stack, when not nil, is the
// text of runtime/debug.Stack. The message is scrubbed of credentials,
// tokens and e-mail addresses. It returns at once.
func (r *Reporter) ReportError(err error, stack []byte, tags map[string]string) {
	if err == nil {
		return
	}
	if r.closed.Load() {
		r.dropped.Add(1)
		return
	}
	ev := r.newEvent(err, stack, tags)
	if !r.admit(ev) {
		r.dropped.Add(1)
		return
	}
	select {
	case r.events <- ev:
	default:
		r.dropped.Add(1)
	}
}

// admit applies the throttle and Sentry's back-off.
func (r *Reporter) admit(ev *event) bool {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Before(r.pauseTill) {
		return false
	}
	if r.throttle < 0 {
		return true
	}
	key := strings.Join(ev.Fingerprint, "\x00")
	if last, ok := r.lastSent[key]; ok && now.Sub(last) < r.throttle {
		return false
	}
	if len(r.lastSent) >= 1000 { // forget old keys rather than grow
		for k, t := range r.lastSent {
			if now.Sub(t) >= r.throttle {
				delete(r.lastSent, k)
			}
		}
	}
	r.lastSent[key] = now
	return true
}

func (r *Reporter) run() {
	defer close(r.done)
	for {
		select {
		case ev := <-r.events:
			r.send(ev)
		case <-r.stop:
			for {
				select {
				case ev := <-r.events:
					r.send(ev)
				default:
					return
				}
			}
		}
	}
}

// send posts one envelope.
func (r *Reporter) send(ev *event) {
	r.mu.Lock()
	paused := time.Now().Before(r.pauseTill)
	r.mu.Unlock()
	if paused {
		r.dropped.Add(1)
		return
	}
	body, err := envelope(ev)
	if err != nil {
		r.failed.Add(1)
		r.log.Warn("error report not encoded", "error", err)
		return
	}
	req, err := http.NewRequest(http.MethodPost, r.dsn.Endpoint, bytes.NewReader(body))
	if err != nil {
		r.failed.Add(1)
		return
	}
	req.Header.Set("Content-Type", "application/x-sentry-envelope")
	req.Header.Set("X-Sentry-Auth", r.dsn.authHeader(sdkName+"/"+r.release))
	res, err := r.client.Do(req)
	if err != nil {
		r.failed.Add(1)
		r.log.Warn("error report not sent", "error", err)
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	switch {
	case res.StatusCode == http.StatusTooManyRequests:
		r.failed.Add(1)
		r.backOff(res.Header)
	case res.StatusCode >= 300:
		r.failed.Add(1)
		r.log.Warn("error report refused", "status", res.StatusCode)
	default:
		r.sent.Add(1)
	}
}

// backOff pauses sending as Sentry's 429 asks: X-Sentry-Rate-Limits
// ("60:error:organization, …") or Retry-After, else one minute.
func (r *Reporter) backOff(h http.Header) {
	wait := time.Minute
	if limits := h.Get("X-Sentry-Rate-Limits"); limits != "" {
		secs, _, _ := strings.Cut(strings.TrimSpace(strings.Split(limits, ",")[0]), ":")
		if n, err := strconv.Atoi(secs); err == nil && n > 0 {
			wait = time.Duration(n) * time.Second
		}
	} else if n, err := strconv.Atoi(h.Get("Retry-After")); err == nil && n > 0 {
		wait = time.Duration(n) * time.Second
	}
	r.mu.Lock()
	r.pauseTill = time.Now().Add(wait)
	r.mu.Unlock()
	r.log.Warn("error tracking asked us to back off", "seconds", int(wait.Seconds()))
}

// Collector reports the reporter's counts as metrics.
func (r *Reporter) Collector() prometheus.Collector { return reporterCollector{r} }

type reporterCollector struct{ r *Reporter }

var reportsDesc = prometheus.NewDesc("superagent_error_reports_total",
	"Error events for error tracking by outcome: sent, dropped (buffer full, throttled, backing off) or failed.", []string{"outcome"}, nil)

func (c reporterCollector) Describe(ch chan<- *prometheus.Desc) { ch <- reportsDesc }

func (c reporterCollector) Collect(ch chan<- prometheus.Metric) {
	sent, dropped, failed := c.r.Stats()
	ch <- prometheus.MustNewConstMetric(reportsDesc, prometheus.CounterValue, float64(sent), "sent")
	ch <- prometheus.MustNewConstMetric(reportsDesc, prometheus.CounterValue, float64(dropped), "dropped")
	ch <- prometheus.MustNewConstMetric(reportsDesc, prometheus.CounterValue, float64(failed), "failed")
}

// sdkName identifies our client to Sentry.
const sdkName = "superagent.observe"

// event is the part of Sentry's event payload we send. There is no
// "request" and no "user": request bodies, headers, cookies, tokens and
// e-mail addresses are never sent.
type event struct {
	EventID     string            `json:"event_id"`
	Timestamp   string            `json:"timestamp"`
	Platform    string            `json:"platform"`
	Level       string            `json:"level"`
	Logger      string            `json:"logger,omitempty"`
	Release     string            `json:"release,omitempty"`
	Environment string            `json:"environment,omitempty"`
	Transaction string            `json:"transaction,omitempty"`
	Exception   *exceptions       `json:"exception,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	Fingerprint []string          `json:"fingerprint,omitempty"`
	Contexts    map[string]any    `json:"contexts,omitempty"`
	SDK         map[string]string `json:"sdk"`
}

type exceptions struct {
	Values []exception `json:"values"`
}

type exception struct {
	Type       string      `json:"type"`
	Value      string      `json:"value"`
	Stacktrace *stacktrace `json:"stacktrace,omitempty"`
}

type stacktrace struct {
	Frames []frame `json:"frames"`
}

// maxTagLen is Sentry's limit on tag values.
const maxTagLen = 200

func (r *Reporter) newEvent(err error, stack []byte, tags map[string]string) *event {
	var id [16]byte
	_, _ = rand.Read(id[:])
	msg := Scrub(err.Error())
	ev := &event{EventID: hex.EncodeToString(id[:]), Timestamp: time.Now().UTC().Format(time.RFC3339Nano), Platform: "go",
		Level: "error", Release: r.release, Environment: r.env, Tags: map[string]string{},
		Contexts: map[string]any{"runtime": map[string]string{"name": "go", "version": runtime.Version()}},
		SDK:      map[string]string{"name": sdkName, "version": r.release}}
	for k, v := range tags {
		if len(v) > maxTagLen {
			v = v[:maxTagLen]
		}
		ev.Tags[k] = v
	}
	component := tags["component"]
	ev.Logger = "superagent." + component
	switch {
	case tags["route"] != "":
		ev.Transaction = strings.TrimSpace(tags["method"] + " " + tags["route"])
	case tags["job_kind"] != "":
		ev.Transaction = tags["job_kind"]
	}
	ex := exception{Type: errorType(err), Value: msg}
	if tags["panic"] == "true" {
		ex.Type = "panic"
	}
	if len(stack) > 0 {
		if frames := parseStack(stack); len(frames) > 0 {
			ex.Stacktrace = &stacktrace{Frames: frames}
		}
	}
	ev.Exception = &exceptions{Values: []exception{ex}}
	ev.Fingerprint = []string{component, ev.Transaction, tags["status"], ex.Type, groupingKey(msg)}
	return ev
}

// errorType names the innermost error of a chain by its Go type, which
// groups errors better than the wrapping fmt type does.
func errorType(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return fmt.Sprintf("%T", err)
		}
		err = next
	}
}

// envelope encodes an event as a Sentry envelope: a header line, an item
// header line with the payload's length, and the payload.
func envelope(ev *event) ([]byte, error) {
	payload, err := json.Marshal(ev)
	if err != nil {
		return nil, err
	}
	header, err := json.Marshal(map[string]string{"event_id": ev.EventID, "sent_at": time.Now().UTC().Format(time.RFC3339Nano)})
	if err != nil {
		return nil, err
	}
	item, err := json.Marshal(map[string]any{"type": "event", "length": len(payload), "content_type": "application/json"})
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Write(header)
	b.WriteByte('\n')
	b.Write(item)
	b.WriteByte('\n')
	b.Write(payload)
	b.WriteByte('\n')
	return b.Bytes(), nil
}
