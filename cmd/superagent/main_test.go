package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/auth"
	"github.com/superagent-hq/superagent/internal/store/dbtest"
	"github.com/superagent-hq/superagent/internal/store/pgadmin"
	"github.com/superagent-hq/superagent/internal/store/sqlstore"
)

// binaryDir holds the superagent binary the process tests run; it is
// built on first use, so tests that need no process (and a run of one
// in-process test, such as the OpenAPI document check) do not wait for a
// race-enabled build of the whole program.
var binaryDir string

var (
	buildOnce   sync.Once
	builtBinary string
	buildErr    error
)

// superagentBinary returns the path of a race-enabled build of this
// command, building it the first time it is asked for.
func superagentBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		path := filepath.Join(binaryDir, "superagent")
		build := exec.Command("go", "build", "-race", "-o", path, ".")
		if out, err := build.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build superagent: %v\n%s", err, out)
			return
		}
		builtBinary = path
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBinary
}

func TestMain(m *testing.M) {
	// In-process apps start this test binary as their password hash helper.
	if len(os.Args) > 1 && os.Args[1] == hashHelperUse {
		if err := auth.ServeHashRequests(os.Stdin, os.Stdout); err != nil {
			os.Exit(2)
		}
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "superagent-bin-")
	if err != nil {
		panic(err)
	}
	binaryDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a running superagent process.
type proc struct {
	cmd    *exec.Cmd
	base   string
	mu     sync.Mutex
	output strings.Builder
	done   chan error
}

var listenLine = regexp.MustCompile(`API docs:\s+(http://[^/\s]+)/docs`)

// start runs `superagent args…` in dir with env and waits for its banner.
func start(t *testing.T, dir string, env []string, args ...string) *proc {
	t.Helper()
	return startUntil(t, dir, env, "", args...)
}

// startUntil runs `superagent args…` and waits for its banner, or for a
// log line containing ready when ready is set.
func startUntil(t *testing.T, dir string, env []string, ready string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(superagentBinary(t), args...), done: make(chan error, 1)}
	p.cmd.Dir = dir
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "PASSWORD_HASH_PROFILE=test"}, env...)
	stdout, _ := p.cmd.StdoutPipe()
	p.cmd.Stderr = p.cmd.Stdout
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			p.mu.Lock()
			p.output.WriteString(line + "\n")
			p.mu.Unlock()
			if m := listenLine.FindStringSubmatch(line); m != nil && ready == "" {
				select {
				case found <- m[1]:
				default:
				}
			}
			if ready != "" && strings.Contains(line, ready) {
				select {
				case found <- "":
				default:
				}
			}
		}
		p.done <- p.cmd.Wait()
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
		}
	})
	select {
	case p.base = <-found:
	case err := <-p.done:
		t.Fatalf("superagent exited early (%v):\n%s", err, p.log())
	case <-time.After(60 * time.Second):
		t.Fatalf("no banner within 60s:\n%s", p.log())
	}
	return p
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.output.String()
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", err, p.log())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no exit within 30s of SIGTERM:\n%s", p.log())
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	res, err := c.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestProductionRefusesMissingSecretKey(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(superagentBinary(t), "serve")
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "ENVIRONMENT=production"}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("exit = %v, want a non-zero exit", err)
	}
	if !strings.Contains(string(out), "SECRET_KEY") {
		t.Errorf("output does not name SECRET_KEY: %s", out)
	}
	if _, err := os.Stat(filepath.Join(cmd.Dir, "data")); err == nil {
		t.Errorf("a refused start created the data directory")
	}
}

func TestMalformedDatabaseURLIsAClearError(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(superagentBinary(t), "serve")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "DATABASE_URL=postgres://user:p%zz@host/db"}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "DATABASE_URL") || strings.Contains(string(out), "panic") || strings.Contains(string(out), "p%zz") {
		t.Errorf("malformed DATABASE_URL: %v: %s", err, out)
	}
}

// TestServeOnSQLiteWithNoSetup is the README's run command: a fresh
// directory, no settings, SQLite created under ./data, docs and health up.
func TestServeOnSQLiteWithNoSetup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := start(t, dir, nil, "serve", "--port", "0")
	for _, path := range []string{"/health", "/ready", "/docs", "/redoc", "/openapi.json"} {
		if code, body := get(t, p.base+path); code != 200 {
			t.Errorf("%s = %d %s", path, code, body)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "superagent.db")); err != nil {
		t.Errorf("database file: %v", err)
	}
	if !strings.Contains(p.log(), "sqlite://data/superagent.db") {
		t.Errorf("banner does not show the database:\n%s", p.log())
	}
	p.stop(t)

	// The operator creates a user; it can sign in.
	cmd := exec.Command(superagentBinary(t), "user", "create", "--email", "ops@example.com", "--org", "acme", "--role", "operator")
	cmd.Dir, cmd.Env = dir, []string{"PATH=" + os.Getenv("PATH"), "PASSWORD_HASH_PROFILE=test"}
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "organization") {
		t.Errorf("user create in a missing organization: %v %s", err, out)
	}
}

func TestWorkerIsRefusedOnSQLite(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(superagentBinary(t), "worker")
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "PostgreSQL") {
		t.Errorf("worker on SQLite: %v %s", err, out)
	}
}

// tcpProxy forwards to target until closed; reopen starts it again on the
// same port. It stands in for a PostgreSQL server going away and coming
// back, without disturbing the server other tests share.
type tcpProxy struct {
	target string
	addr   string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *tcpProxy {
	p := &tcpProxy{target: target}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.down)
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
}

func (p *tcpProxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *tcpProxy) up(t *testing.T) {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.serve(ln)
}

// TestPostgresReadinessFollowsTheDatabase: with DATABASE_URL on
// PostgreSQL, migrations apply and /ready is 200; when the database goes
// away /ready turns 503 within 5 s and back to 200 when it returns, and the
// process keeps running.
func TestPostgresReadinessFollowsTheDatabase(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t, sqlstore.KindPostgres)
	proxy := newProxy(t, "127.0.0.1:5432")
	appURL := strings.Replace(db.AppDSN, "127.0.0.1:5432", proxy.addr, 1)
	appURL = strings.Replace(appURL, "localhost:5432", proxy.addr, 1)
	if appURL == db.AppDSN {
		// The proxy stands between the server and PostgreSQL on its usual
		// address; CI runs PostgreSQL there, so this test must run in CI.
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true but the test database is not on 127.0.0.1:5432 (%s): the readiness test cannot run", pgadmin.Redact(db.AppDSN))
		}
		t.Skip("the test database is not on 127.0.0.1:5432")
	}
	p := start(t, t.TempDir(), []string{"DATABASE_URL=" + appURL, "DATABASE_MIGRATE_URL=" + db.OwnerDSN}, "serve", "--port", "0")
	if code, body := get(t, p.base+"/ready"); code != 200 || !strings.Contains(body, "postgres") {
		t.Fatalf("/ready = %d %s", code, body)
	}
	proxy.down()
	waitStatus(t, p, 503, 5*time.Second)
	proxy.up(t)
	waitStatus(t, p, 200, 15*time.Second)
	if code, _ := get(t, p.base+"/health"); code != 200 {
		t.Errorf("/health after the outage = %d", code)
	}
	p.stop(t)
}

func waitStatus(t *testing.T, p *proc, want int, within time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for {
		code, body := get(t, p.base+"/ready")
		if code == want {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("/ready stayed %d (%s), want %d within %s\n%s", code, body, want, within, p.log())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// TestPasswordHashesRunInAHelper: serve hashes passwords in a helper
// process (superagent hash-helper, its child), started by the first hash,
// reused by the next, and gone when serve stops.
func TestPasswordHashesRunInAHelper(t *testing.T) {
	t.Parallel()
	p := start(t, t.TempDir(), nil, "serve", "--port", "0")
	if kids := hashHelpers(t, p.cmd.Process.Pid); len(kids) != 0 {
		t.Fatalf("helpers before any hash: %v", kids)
	}
	post := func(path, contentType, body string) int {
		t.Helper()
		res, err := http.Post(p.base+path, contentType, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode >= 300 {
			t.Logf("%s: %d %s", path, res.StatusCode, b)
		}
		return res.StatusCode
	}
	if code := post("/api/v1/auth/register", "application/json", `{"email":"h@example.com","username":"hasher",
		"password":"a long enough passphrase 42","full_name":"H","organization_name":"Hashing"}`); code != 201 {
		t.Fatalf("register = %d", code)
	}
	kids := hashHelpers(t, p.cmd.Process.Pid)
	if len(kids) != 1 {
		t.Fatalf("helpers after registering: %v\n%s", kids, p.log())
	}
	if code := post("/api/v1/auth/login", "application/x-www-form-urlencoded",
		"username=h%40example.com&password=a+long+enough+passphrase+42"); code != 200 {
		t.Fatalf("login = %d", code)
	}
	if again := hashHelpers(t, p.cmd.Process.Pid); len(again) != 1 || again[0] != kids[0] {
		t.Errorf("helpers after a login: %v, want the same one %v", again, kids)
	}
	if strings.Contains(p.log(), "hash helper failed") {
		t.Errorf("a hash fell back to in-process:\n%s", p.log())
	}
	p.stop(t)
	if err := syscall.Kill(kids[0], 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("helper %d still exists after serve stopped: %v", kids[0], err)
	}
}

// hashHelpers lists the children of pid running `hash-helper`.
func hashHelpers(t *testing.T, pid int) []int {
	t.Helper()
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, d := range dirs {
		stat, err := os.ReadFile(d + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces, so split after ')'.
		rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
		var state string
		var ppid int
		if _, err := fmt.Sscan(rest, &state, &ppid); err != nil || ppid != pid || state == "Z" {
			continue
		}
		cmdline, _ := os.ReadFile(d + "/cmdline")
		if strings.Contains(string(cmdline), "hash-helper") {
			var child int
			fmt.Sscan(filepath.Base(d), &child)
			out = append(out, child)
		}
	}
	return out
}
