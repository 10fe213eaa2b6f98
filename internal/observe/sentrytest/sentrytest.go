// Package sentrytest is a local server that speaks Sentry's envelope API,
// for tests of error reporting: it checks each envelope's path and
// X-Sentry-Auth header, parses its three parts (the envelope header line,
// the item header line with the payload's length, and the event JSON) and
// keeps what it received.
package sentrytest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// PublicKey and ProjectID are the server's DSN parts.
const (
	PublicKey = "0123456789abcdef0123456789abcdef"
	ProjectID = "42"
)

// Envelope is one envelope the server accepted.
type Envelope struct {
	// Raw is the request body exactly as sent.
	Raw []byte
	// Auth is the X-Sentry-Auth header, parsed into its key=value pairs.
	Auth map[string]string
	// Header is the envelope header line; ItemHeader the item's.
	Header     map[string]any
	ItemHeader map[string]any
	// Event is the item's payload.
	Event Event
	// RequestHeaders are the HTTP headers of the POST.
	RequestHeaders http.Header
}

// Event is the part of an event payload tests look at; Fields holds all of it.
type Event struct {
	EventID     string            `json:"event_id"`
	Level       string            `json:"level"`
	Platform    string            `json:"platform"`
	Release     string            `json:"release"`
	Environment string            `json:"environment"`
	Transaction string            `json:"transaction"`
	Tags        map[string]string `json:"tags"`
	Fingerprint []string          `json:"fingerprint"`
	Exception   struct {
		Values []struct {
			Type       string `json:"type"`
			Value      string `json:"value"`
			Stacktrace *struct {
				Frames []struct {
					Function string `json:"function"`
					Module   string `json:"module"`
					AbsPath  string `json:"abs_path"`
					Lineno   int    `json:"lineno"`
					InApp    bool   `json:"in_app"`
				} `json:"frames"`
			} `json:"stacktrace"`
		} `json:"values"`
	} `json:"exception"`
	Fields map[string]any `json:"-"`
}

// Server is a fake Sentry.
type Server struct {
	srv *httptest.Server

	mu        sync.Mutex
	envelopes []Envelope
	problems  []string
	arrived   chan struct{}
	respond   func(w http.ResponseWriter) bool
}

// NewServer starts a server, closed when the test ends.
func NewServer(t testing.TB) *Server {
	s := &Server{arrived: make(chan struct{}, 1000)}
	s.srv = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(s.srv.Close)
	return s
}

// DSN is the DSN that reports to this server.
func (s *Server) DSN() string {
	return strings.Replace(s.srv.URL, "http://", "http://"+PublicKey+"@", 1) + "/" + ProjectID
}

// RespondWith makes the server answer with fn (when it returns true)
// instead of accepting; nil restores accepting.
func (s *Server) RespondWith(fn func(w http.ResponseWriter) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.respond = fn
}

// Envelopes returns what was accepted so far.
func (s *Server) Envelopes() []Envelope {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Envelope(nil), s.envelopes...)
}

// Requests counts every POST that reached the server, accepted or not.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.envelopes) + len(s.problems)
}

// Wait waits for n envelopes to have been accepted and returns them.
func (s *Server) Wait(ctx context.Context, n int) ([]Envelope, error) {
	for {
		if got := s.Envelopes(); len(got) >= n {
			return got, nil
		}
		select {
		case <-ctx.Done():
			return s.Envelopes(), fmt.Errorf("%d envelopes arrived, want %d (problems: %v)", len(s.Envelopes()), n, s.Problems())
		case <-s.arrived:
		}
	}
}

// Problems lists requests the server refused as malformed.
func (s *Server) Problems() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.problems...)
}

func (s *Server) refuse(w http.ResponseWriter, format string, args ...any) {
	s.mu.Lock()
	s.problems = append(s.problems, fmt.Sprintf(format, args...))
	s.mu.Unlock()
	http.Error(w, fmt.Sprintf(format, args...), http.StatusBadRequest)
	s.arrived <- struct{}{}
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	respond := s.respond
	s.mu.Unlock()
	if respond != nil && respond(w) {
		s.mu.Lock()
		s.problems = append(s.problems, "answered by RespondWith")
		s.mu.Unlock()
		s.arrived <- struct{}{}
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/api/"+ProjectID+"/envelope/" {
		s.refuse(w, "%s %s is not the envelope endpoint", r.Method, r.URL.Path)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-sentry-envelope" {
		s.refuse(w, "content type %q", ct)
		return
	}
	auth, err := parseAuth(r.Header.Get("X-Sentry-Auth"))
	if err != nil {
		s.refuse(w, "X-Sentry-Auth: %v", err)
		return
	}
	if auth["sentry_key"] != PublicKey || auth["sentry_version"] != "7" || auth["sentry_client"] == "" {
		s.refuse(w, "X-Sentry-Auth %v: wrong key, version or no client", auth)
		return
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		s.refuse(w, "read body: %v", err)
		return
	}
	env, err := parseEnvelope(raw)
	if err != nil {
		s.refuse(w, "envelope: %v", err)
		return
	}
	env.Auth, env.RequestHeaders = auth, r.Header.Clone()
	s.mu.Lock()
	s.envelopes = append(s.envelopes, *env)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"id":%q}`, env.Event.EventID)
	s.arrived <- struct{}{}
}

// parseAuth parses "Sentry k=v, k=v".
func parseAuth(h string) (map[string]string, error) {
	rest, ok := strings.CutPrefix(h, "Sentry ")
	if !ok {
		return nil, fmt.Errorf("%q does not start with \"Sentry \"", h)
	}
	out := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return nil, fmt.Errorf("malformed pair %q", part)
		}
		out[k] = v
	}
	return out, nil
}

// parseEnvelope reads the header line, one item header and its payload of
// exactly the declared length.
func parseEnvelope(raw []byte) (*Envelope, error) {
	env := &Envelope{Raw: raw}
	rd := bufio.NewReader(bytes.NewReader(raw))
	line, err := rd.ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("no envelope header line: %w", err)
	}
	if err := json.Unmarshal(line, &env.Header); err != nil {
		return nil, fmt.Errorf("envelope header: %w", err)
	}
	line, err = rd.ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("no item header line: %w", err)
	}
	if err := json.Unmarshal(line, &env.ItemHeader); err != nil {
		return nil, fmt.Errorf("item header: %w", err)
	}
	if env.ItemHeader["type"] != "event" {
		return nil, fmt.Errorf("item type %v, want event", env.ItemHeader["type"])
	}
	length, ok := env.ItemHeader["length"].(float64)
	if !ok || length <= 0 {
		return nil, fmt.Errorf("item header has no length: %v", env.ItemHeader)
	}
	payload := make([]byte, int(length))
	if _, err := io.ReadFull(rd, payload); err != nil {
		return nil, fmt.Errorf("payload shorter than its declared %d bytes: %w", int(length), err)
	}
	if rest, _ := io.ReadAll(rd); len(bytes.TrimSpace(rest)) > 0 {
		return nil, fmt.Errorf("%d unexpected bytes after the item", len(rest))
	}
	if err := json.Unmarshal(payload, &env.Event); err != nil {
		return nil, fmt.Errorf("event: %w", err)
	}
	if err := json.Unmarshal(payload, &env.Event.Fields); err != nil {
		return nil, fmt.Errorf("event: %w", err)
	}
	if env.Header["event_id"] != env.Event.EventID || len(env.Event.EventID) != 32 {
		return nil, fmt.Errorf("event id %q in the header, %q in the event (want 32 hex digits)", env.Header["event_id"], env.Event.EventID)
	}
	return env, nil
}
