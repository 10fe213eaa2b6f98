package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/observe/sentrytest"
	"github.com/superagent-hq/superagent/internal/store/dbtest"
	"github.com/superagent-hq/superagent/internal/store/sqlstore"
)

const testMetricsToken = "serve-metrics-token-0123456789"

func getBearer(t *testing.T, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := http.Client{Timeout: 10 * time.Second}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestServeExposesMetricsAndReportsErrors runs the binary with a metrics
// token and Sentry pointed at a local envelope server: /metrics answers the
// token holder with request, database and error-report figures read from
// the running process; on PostgreSQL, a database outage makes /ready answer
// 503, and that reaches Sentry with the request id and route.
func TestServeExposesMetricsAndReportsErrors(t *testing.T) {
	t.Parallel()
	for _, kind := range dbtest.Kinds(t) {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			fake := sentrytest.NewServer(t)
			db := dbtest.New(t, kind)
			env := []string{"METRICS_TOKEN=" + testMetricsToken, "SENTRY_ENABLED=true", "SENTRY_DSN=" + fake.DSN(), "ENVIRONMENT=staging"}
			var proxy *tcpProxy
			if kind == sqlstore.KindPostgres {
				proxy = newProxy(t, "127.0.0.1:5432")
				appURL := strings.Replace(db.AppDSN, "127.0.0.1:5432", proxy.addr, 1)
				if appURL == db.AppDSN {
					t.Skip("the test database is not on 127.0.0.1:5432")
				}
				env = append(env, "DATABASE_URL="+appURL, "DATABASE_MIGRATE_URL="+db.OwnerDSN)
			} else {
				env = append(env, "DATABASE_URL="+db.URL)
			}
			p := start(t, t.TempDir(), env, "serve", "--port", "0")
			if code, _ := get(t, p.base+"/health"); code != 200 {
				t.Fatalf("/health = %d", code)
			}
			if code, body := getBearer(t, p.base+"/metrics", ""); code != 401 {
				t.Fatalf("/metrics without the token = %d %s", code, body)
			}
			code, body := getBearer(t, p.base+"/metrics", testMetricsToken)
			if code != 200 {
				t.Fatalf("/metrics = %d %s", code, body)
			}
			for _, want := range []string{
				`superagent_http_request_duration_seconds_count{method="GET",route="/health",status="200"} 1`,
				`superagent_database_scrape_success 1`,
				`superagent_queue_jobs{queue="steps",state="available"}`,
				`superagent_executions_recent{status="succeeded"} 0`,
				`superagent_error_reports_total{outcome="sent"} 0`,
				`superagent_build_info{version="dev"} 1`,
				`go_goroutines`,
			} {
				if !strings.Contains(body, want) {
					t.Errorf("/metrics lacks %s", want)
				}
			}
			if proxy == nil {
				p.stop(t)
				return
			}

			proxy.down()
			waitStatus(t, p, 503, 10*time.Second)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			got, err := fake.Wait(ctx, 1)
			if err != nil {
				t.Fatalf("%v\n%s", err, p.log())
			}
			ev := got[0].Event
			if ev.Transaction != "GET /ready" || ev.Tags["status"] != "503" || !strings.HasPrefix(ev.Tags["request_id"], "req_") ||
				ev.Environment != "staging" || ev.Release != "superagent@dev" {
				t.Errorf("report of the outage: %+v", ev)
			}
			proxy.up(t)
			waitStatus(t, p, 200, 15*time.Second)
			p.stop(t)
		})
	}
}
