// Package vaulttest runs a local HTTP server that speaks the part of
// HashiCorp Vault's HTTP API that Super Agent uses: the KV version 2
// secrets engine (write and read a secret's data, soft-delete its latest
// version, delete its metadata and every version), authenticated by the
// X-Vault-Token header, with Vault's JSON shapes and status codes.
//
//	v := vaulttest.New(t, "secret")
//	// configure VAULT_URL=v.URL(), VAULT_TOKEN=v.Token(), VAULT_MOUNT=secret
//	data, ok := v.Latest("superagent/orgs/org_x/providers/openai")
package vaulttest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Token is the token the server accepts.
const Token = "hvs.vaulttest-token-0123456789"

type version struct {
	data    map[string]any
	created time.Time
	deleted bool
}

// Request is a request the server received.
type Request struct {
	Method string
	Path   string
	Token  string
	Body   string
}

// Server is a fake Vault.
type Server struct {
	mount string
	srv   *httptest.Server

	mu          sync.Mutex
	secrets     map[string][]version // path below the mount → versions, oldest first
	requests    []Request
	unavailable bool
}

// New starts a fake Vault with a KV v2 engine at mount, stopped when the
// test ends.
func New(t testing.TB, mount string) *Server {
	t.Helper()
	s := &Server{mount: strings.Trim(mount, "/"), secrets: map[string][]version{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is Vault's address.
func (s *Server) URL() string { return s.srv.URL }

// Token is the token the server accepts.
func (s *Server) Token() string { return Token }

// SetUnavailable makes every request fail with 503 (a sealed Vault) or
// work again.
func (s *Server) SetUnavailable(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unavailable = down
}

// Latest returns the data of the latest live version at path (below the
// mount, without "data/").
func (s *Server) Latest(path string) (map[string]any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	vs := s.secrets[path]
	if len(vs) == 0 || vs[len(vs)-1].deleted {
		return nil, false
	}
	return vs[len(vs)-1].data, true
}

// Versions returns how many versions exist at path (0: none, or deleted with
// its metadata).
func (s *Server) Versions(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.secrets[path])
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func vaultErrors(w http.ResponseWriter, status int, errs ...string) {
	if errs == nil {
		errs = []string{}
	}
	writeJSON(w, status, map[string]any{"errors": errs})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Token: r.Header.Get("X-Vault-Token"), Body: string(body)})
	down := s.unavailable
	s.mu.Unlock()

	if down {
		vaultErrors(w, http.StatusServiceUnavailable, "Vault is sealed")
		return
	}
	if r.Header.Get("X-Vault-Token") != Token {
		vaultErrors(w, http.StatusForbidden, "permission denied")
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/"+s.mount+"/")
	if !ok {
		vaultErrors(w, http.StatusNotFound, fmt.Sprintf("no handler for route %q. route entry not found.", strings.TrimPrefix(r.URL.Path, "/v1/")))
		return
	}
	kind, path, _ := strings.Cut(rest, "/")
	if path == "" {
		vaultErrors(w, http.StatusNotFound)
		return
	}
	switch {
	case kind == "data" && (r.Method == http.MethodPost || r.Method == http.MethodPut):
		s.write(w, path, body)
	case kind == "data" && r.Method == http.MethodGet:
		s.read(w, path)
	case kind == "data" && r.Method == http.MethodDelete:
		s.mu.Lock()
		if vs := s.secrets[path]; len(vs) > 0 {
			vs[len(vs)-1].deleted = true
		}
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case kind == "metadata" && r.Method == http.MethodDelete:
		s.mu.Lock()
		delete(s.secrets, path)
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	default:
		vaultErrors(w, http.StatusMethodNotAllowed, "unsupported operation")
	}
}

func (s *Server) write(w http.ResponseWriter, path string, body []byte) {
	var req struct {
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Data == nil {
		vaultErrors(w, http.StatusBadRequest, "no data provided")
		return
	}
	s.mu.Lock()
	now := time.Now().UTC()
	s.secrets[path] = append(s.secrets[path], version{data: req.Data, created: now})
	n := len(s.secrets[path])
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"request_id": fmt.Sprintf("req-%d", n), "lease_id": "", "renewable": false, "lease_duration": 0,
		"data": map[string]any{"created_time": now.Format(time.RFC3339Nano), "custom_metadata": nil,
			"deletion_time": "", "destroyed": false, "version": n},
		"wrap_info": nil, "warnings": nil, "auth": nil,
	})
}

func (s *Server) read(w http.ResponseWriter, path string) {
	s.mu.Lock()
	vs := s.secrets[path]
	var latest version
	if len(vs) > 0 {
		latest = vs[len(vs)-1]
	}
	n := len(vs)
	s.mu.Unlock()
	if n == 0 {
		vaultErrors(w, http.StatusNotFound)
		return
	}
	meta := map[string]any{"created_time": latest.created.Format(time.RFC3339Nano), "custom_metadata": nil,
		"deletion_time": "", "destroyed": false, "version": n}
	if latest.deleted {
		meta["deletion_time"] = time.Now().UTC().Format(time.RFC3339Nano)
		writeJSON(w, http.StatusNotFound, map[string]any{"data": map[string]any{"data": nil, "metadata": meta}})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"request_id": "req-read", "lease_id": "", "renewable": false, "lease_duration": 0,
		"data":      map[string]any{"data": latest.data, "metadata": meta},
		"wrap_info": nil, "warnings": nil, "auth": nil,
	})
}
