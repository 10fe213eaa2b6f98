package netguard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"
)

// testServer is an httptest server on 127.0.0.1 that counts the connections
// it accepts, so tests can prove that a refused request never reached it.
type testServer struct {
	*httptest.Server
	conns atomic.Int64
}

func newTestServer(t *testing.T, h http.Handler) *testServer {
	t.Helper()
	s := &testServer{Server: httptest.NewUnstartedServer(h)}
	s.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// hostPort returns the server's "127.0.0.1:port".
func (s *testServer) hostPort() string { return strings.TrimPrefix(s.URL, "http://") }

func (s *testServer) port() string {
	_, port, _ := net.SplitHostPort(s.hostPort())
	return port
}

func okHandler(body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, body) })
}

func requireBlocked(t *testing.T, err error) *BlockedError {
	t.Helper()
	var blocked *BlockedError
	if !errors.As(err, &blocked) {
		t.Fatalf("error = %v (%T), want a *BlockedError", err, err)
	}
	return blocked
}

func get(t *testing.T, c *http.Client, rawURL string) (*http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c.Do(req)
}

func TestClientFetchesAllowlistedServer(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, okHandler("hello from an allowlisted server"))
	g := mustGuard(t, srv.hostPort())

	resp, err := get(t, g.Client(5*time.Second), srv.URL+"/x")
	if err != nil {
		t.Fatalf("GET allowlisted server: %v", err)
	}
	defer resp.Body.Close()
	body, err := ReadLimited(resp.Body, 1024)
	if err != nil || string(body) != "hello from an allowlisted server" {
		t.Errorf("body = %q, %v", body, err)
	}
}

// TestClientRefusesLoopback checks that a client whose allowlist opens one
// loopback server cannot reach another one, whichever way its address is
// written; some refusals come from the URL check, some from the connection.
func TestClientRefusesLoopback(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, okHandler("secret"))
	other := newTestServer(t, okHandler("allowed"))
	g := mustGuard(t, other.hostPort())
	c := g.Client(5 * time.Second)

	for _, target := range []string{
		srv.URL,                          // literal, refused by the URL check
		"http://localhost:" + srv.port(), // name, refused by the URL check
		"http://[::ffff:127.0.0.1]:" + srv.port() + "/", // mapped literal
		"http://2130706433:" + srv.port() + "/",         // decimal notation
		"http://0x7f.1:" + srv.port() + "/",             // hex/short notation
		// Fullwidth-style letters that IDNA maps to "localhost": CheckURL
		// sees an unknown name, the connection check sees 127.0.0.1.
		"http://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ:" + srv.port() + "/",
	} {
		t.Run(target, func(t *testing.T) {
			resp, err := get(t, c, target)
			if err == nil {
				resp.Body.Close()
				t.Fatalf("GET %s succeeded", target)
			}
			blocked := requireBlocked(t, err)
			if strings.Contains(err.Error(), "127.0.0.1") && !strings.Contains(target, "127.0.0.1") {
				t.Errorf("error %q names the internal address", err)
			}
			t.Logf("refused: %v (range %q)", blocked, blocked.Range)
		})
	}
	if n := srv.conns.Load(); n != 0 {
		t.Errorf("refused server accepted %d connections", n)
	}
}

// TestDialContextChecksResolvedAddress calls the dialer directly, past the
// URL checks, so only the connect-time check stands between a name that
// resolves to loopback and the server.
func TestDialContextChecksResolvedAddress(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, okHandler("secret"))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	g := mustGuard(t)
	_, err := g.DialContext(ctx, "tcp", "localhost:"+srv.port())
	blocked := requireBlocked(t, err)
	if blocked.Host != "localhost" || !blocked.Addr.IsLoopback() || blocked.Range != "loopback" {
		t.Errorf("BlockedError = %+v, want host localhost, a loopback Addr and range loopback", blocked)
	}
	if strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("message %q names the resolved address", err)
	}
	for _, addr := range []string{
		srv.hostPort(), "[::ffff:127.0.0.1]:" + srv.port(),
		"2130706433:" + srv.port(), "0x7f.1:" + srv.port(), "127.1:" + srv.port(),
	} {
		// The notations Go does not parse as addresses either fail to
		// resolve or resolve to 127.0.0.1 and are refused; neither connects.
		if conn, err := g.DialContext(ctx, "tcp", addr); err == nil {
			conn.Close()
			t.Errorf("DialContext(%q) connected", addr)
		}
	}
	if _, err := g.DialContext(ctx, "udp", srv.hostPort()); err == nil {
		t.Errorf("DialContext over udp succeeded")
	}
	if n := srv.conns.Load(); n != 0 {
		t.Fatalf("server accepted %d connections through a guard that refuses it", n)
	}

	// The same dials succeed once the allowlist opens the server, by address
	// or by name, so the refusals above are the guard's doing.
	for _, entry := range []string{srv.hostPort(), "localhost:" + srv.port()} {
		open := mustGuard(t, entry)
		conn, err := open.DialContext(ctx, "tcp", "localhost:"+srv.port())
		if err != nil {
			t.Fatalf("with %q allowlisted: %v", entry, err)
		}
		conn.Close()
	}
}

func TestRedirects(t *testing.T) {
	t.Parallel()
	internal := newTestServer(t, okHandler("internal secret"))
	mux := http.NewServeMux()
	mux.HandleFunc("/to", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("u"), http.StatusFound)
	})
	mux.HandleFunc("/chain/{n}", func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscan(r.PathValue("n"), &n)
		if n == 0 {
			io.WriteString(w, "end of chain")
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/chain/%d", n-1), http.StatusFound)
	})
	mux.Handle("/ok", okHandler("redirected ok"))
	allowed := newTestServer(t, mux)
	g := mustGuard(t, allowed.hostPort())
	c := g.Client(5 * time.Second)

	to := func(target string) string { return allowed.URL + "/to?u=" + url.QueryEscape(target) }
	tests := []struct {
		name, url string
		wantBody  string // "" means refused
	}{
		{"to an allowed path", to(allowed.URL + "/ok"), "redirected ok"},
		{"to a loopback server", to(internal.URL + "/"), ""},
		{"to localhost", to("http://localhost:" + internal.port() + "/"), ""},
		{"to IPv6 loopback", to("http://[::1]:" + internal.port() + "/"), ""},
		{"to the metadata address", to("http://169.254.169.254/latest/meta-data/"), ""},
		{"to a decimal address", to("http://2130706433:" + internal.port() + "/"), ""},
		{"to another scheme", to("ftp://example.com/"), ""},
		{"to a file", to("file:///etc/passwd"), ""},
		{"to a URL with credentials", to("http://user:pw@" + allowed.hostPort() + "/ok"), ""},
		{"five redirects", allowed.URL + "/chain/5", "end of chain"},
		{"six redirects", allowed.URL + "/chain/6", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, err := get(t, c, tt.url)
			if tt.wantBody == "" {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("GET %s succeeded", tt.url)
				}
				t.Logf("refused: %v", requireBlocked(t, err))
				return
			}
			if err != nil {
				t.Fatalf("GET %s: %v", tt.url, err)
			}
			defer resp.Body.Close()
			if body, _ := ReadLimited(resp.Body, 100); string(body) != tt.wantBody {
				t.Errorf("body = %q, want %q", body, tt.wantBody)
			}
		})
	}
	t.Cleanup(func() {
		if n := internal.conns.Load(); n != 0 {
			t.Errorf("internal server accepted %d connections", n)
		}
	})
}

func TestTransportIgnoresProxyEnvironment(t *testing.T) {
	t.Parallel()
	g := mustGuard(t)
	if g.transport.Proxy != nil {
		t.Fatal("transport has a Proxy function; a proxy would bypass the connect-time check")
	}
	//lint:ignore SA1019 the deprecated hooks must stay unset: either would bypass the guard
	if g.transport.DialContext == nil || g.transport.DialTLSContext != nil || g.transport.Dial != nil || g.transport.DialTLS != nil {
		t.Fatal("transport does not dial only through the guard")
	}
}

func TestReadLimited(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		r       io.Reader
		limit   int64
		want    string
		tooBig  bool
		wantErr bool
	}{
		{"under", strings.NewReader("abc"), 4, "abc", false, false},
		{"exact", strings.NewReader("abcd"), 4, "abcd", false, false},
		{"over by one", strings.NewReader("abcde"), 4, "abcd", true, false},
		{"far over", bytes.NewReader(make([]byte, 1<<20)), 10, string(make([]byte, 10)), true, false},
		{"empty", strings.NewReader(""), 4, "", false, false},
		{"zero limit", strings.NewReader("a"), 0, "", true, false},
		{"negative limit", strings.NewReader("a"), -5, "", true, false},
		{"read error", iotest.ErrReader(io.ErrUnexpectedEOF), 4, "", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ReadLimited(tt.r, tt.limit)
			if string(got) != tt.want {
				t.Errorf("data = %q, want %q", got, tt.want)
			}
			if errors.Is(err, ErrTooLarge) != tt.tooBig {
				t.Errorf("err = %v, want ErrTooLarge: %v", err, tt.tooBig)
			}
			if tt.wantErr && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("err = %v, want the read error", err)
			}
			if !tt.tooBig && !tt.wantErr && err != nil {
				t.Errorf("unexpected error %v", err)
			}
		})
	}
}

func TestReadLimitedStopsReading(t *testing.T) {
	t.Parallel()
	r := &countingReader{}
	if _, err := ReadLimited(r, 1000); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if r.n > 1001+512 {
		t.Errorf("read %d bytes of an endless stream for a 1000-byte limit", r.n)
	}
}

type countingReader struct{ n int }

func (r *countingReader) Read(p []byte) (int, error) {
	r.n += len(p)
	return len(p), nil
}
