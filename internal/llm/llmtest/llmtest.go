// Package llmtest runs local HTTP servers that speak the real wire formats of
// the OpenAI Chat Completions API and the Anthropic Messages API, JSON and
// streaming, so tests can drive the real SDK clients without a network.
//
// A Server answers each request with the next scripted Reply (Push), else
// with what its Handler returns (Handle), else by echoing the last user
// message. It records every request it receives, decoded into a
// provider-neutral Request, for assertions:
//
//	srv := llmtest.NewOpenAI(t)
//	srv.Push(llmtest.Reply{Text: "Hello!", InputTokens: 12, OutputTokens: 3})
//	// point the code under test at srv.URL() with key llmtest.APIKey …
//	got := srv.LastRequest()
//	if got.Model != "gpt-4o-mini" || got.System != "Be brief" { … }
//
// Both servers check the API key (Authorization: Bearer for OpenAI; x-api-key
// or Authorization: Bearer, plus anthropic-version, for Anthropic) and answer
// a wrong one with 401 in the provider's error format.
package llmtest

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

// APIKey is the key the servers accept unless WithAPIKey says otherwise.
const APIKey = "sk-llmtest-0123456789"

// ToolCall is a tool call a Reply makes, or one found in a recorded request.
type ToolCall struct {
	ID   string
	Name string
	// Arguments is a JSON object.
	Arguments string
}

// Reply scripts one answer of a Server.
type Reply struct {
	Text      string
	ToolCalls []ToolCall
	// Usage to report. InputTokens counts all prompt tokens including
	// CachedInputTokens; the Anthropic server reports the cached part apart,
	// as Anthropic does.
	InputTokens, OutputTokens, CachedInputTokens int64
	// Model to answer with; empty echoes the requested model.
	Model string
	// StopReason overrides the natural one ("stop"/"tool_calls" on OpenAI,
	// "end_turn"/"tool_use" on Anthropic).
	StopReason string

	// Status, when not 0 or 200, makes the reply an error with that HTTP
	// status and ErrorMessage, in the provider's error format.
	Status       int
	ErrorMessage string
	// RetryAfter is sent as the Retry-After header when not empty.
	RetryAfter string
	// Header holds extra response headers.
	Header http.Header

	// Delay holds the answer back this long, or until the client gives up.
	Delay time.Duration
	// ChunkChars is the size of streamed text chunks (default 4 characters).
	ChunkChars int
}

// Message is one conversation turn of a recorded request, in neutral form.
// Anthropic tool_result blocks become RoleTool messages, as on OpenAI.
type Message struct {
	Role       string // "user", "assistant", "tool" (never "system": see Request.System)
	Text       string
	ToolCalls  []ToolCall
	ToolCallID string
}

// Tool is a tool offered in a recorded request.
type Tool struct {
	Name        string
	Description string
	Parameters  json.RawMessage
}

// Request is one request a Server received.
type Request struct {
	Method string
	Path   string
	Header http.Header
	// Body is the raw JSON body, for wire-level assertions.
	Body json.RawMessage

	Model string
	// System is the system prompt: the system messages on OpenAI, the
	// top-level system field on Anthropic, joined by "\n\n".
	System   string
	Messages []Message
	Tools    []Tool
	Stream   bool
	// IncludeUsage is OpenAI's stream_options.include_usage.
	IncludeUsage bool
	// MaxTokens is max_tokens or max_completion_tokens.
	MaxTokens   int64
	Temperature *float64
	// JSONMode is true when a JSON answer was asked for with a response
	// format (OpenAI json_object/json_schema, Anthropic output_config.format);
	// JSONSchema is the schema, if any.
	JSONMode   bool
	JSONSchema json.RawMessage
}

// LastUserText returns the text of the last user message.
func (r Request) LastUserText() string {
	for i := len(r.Messages) - 1; i >= 0; i-- {
		if r.Messages[i].Role == "user" {
			return r.Messages[i].Text
		}
	}
	return ""
}

// Option configures a Server.
type Option func(*Server)

// WithAPIKey makes the server accept key instead of APIKey. An empty key
// accepts any request, with or without credentials.
func WithAPIKey(key string) Option { return func(s *Server) { s.apiKey = key } }

// Server is a fake provider API on a local port.
type Server struct {
	dialect dialect
	srv     *httptest.Server
	apiKey  string

	mu       sync.Mutex
	queue    []Reply
	handler  func(Request) Reply
	requests []Request
	seq      int
}

// dialect is one provider's wire format.
type dialect interface {
	path() string
	// checkAuth returns 0 when h authenticates with key, else the status
	// and message of the refusal.
	checkAuth(h http.Header, key string) (status int, msg string)
	decode(body []byte) (Request, error)
	writeError(w http.ResponseWriter, status int, msg string)
	writeJSON(w http.ResponseWriter, req Request, r Reply, id string)
	writeStream(w http.ResponseWriter, req Request, r Reply, id string)
}

func newServer(t testing.TB, d dialect, opts []Option) *Server {
	t.Helper()
	s := &Server{dialect: d, apiKey: APIKey}
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the base URL to configure the SDK client with.
func (s *Server) URL() string {
	if _, ok := s.dialect.(openAIDialect); ok {
		return s.srv.URL + "/v1"
	}
	return s.srv.URL
}

// APIKey is the key the server accepts.
func (s *Server) APIKey() string { return s.apiKey }

// Push queues replies; each request takes the next one.
func (s *Server) Push(replies ...Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, replies...)
}

// Handle sets the function that answers requests when no pushed reply is
// left. It is called with the decoded request, one request at a time.
func (s *Server) Handle(f func(Request) Reply) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handler = f
}

// Requests returns the requests received so far, oldest first, including
// rejected ones.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// LastRequest returns the latest request received, or a zero Request when
// there is none.
func (s *Server) LastRequest() Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) == 0 {
		return Request{}
	}
	return s.requests[len(s.requests)-1]
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, readErr := io.ReadAll(r.Body)
	req, decodeErr := s.dialect.decode(body)
	if readErr != nil {
		decodeErr = readErr
	}
	req.Method, req.Path, req.Header, req.Body = r.Method, r.URL.Path, r.Header.Clone(), json.RawMessage(body)

	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.mu.Unlock()

	if r.Method != http.MethodPost || r.URL.Path != s.dialect.path() {
		s.dialect.writeError(w, http.StatusNotFound, fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path))
		return
	}
	if status, msg := s.dialect.checkAuth(r.Header, s.apiKey); status != 0 {
		s.dialect.writeError(w, status, msg)
		return
	}
	if decodeErr != nil {
		s.dialect.writeError(w, http.StatusBadRequest, "could not parse the request body: "+decodeErr.Error())
		return
	}

	s.mu.Lock()
	var reply Reply
	switch {
	case len(s.queue) > 0:
		reply = s.queue[0]
		s.queue = s.queue[1:]
	case s.handler != nil:
		h := s.handler
		s.mu.Unlock()
		reply = h(req)
		s.mu.Lock()
	default:
		reply = echo(req)
	}
	s.seq++
	id := fmt.Sprint(s.seq)
	s.mu.Unlock()

	if reply.Delay > 0 {
		t := time.NewTimer(reply.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	for k, vs := range reply.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	if reply.RetryAfter != "" {
		w.Header().Set("Retry-After", reply.RetryAfter)
	}
	if reply.Status != 0 && reply.Status != http.StatusOK {
		msg := reply.ErrorMessage
		if msg == "" {
			msg = http.StatusText(reply.Status)
		}
		s.dialect.writeError(w, reply.Status, msg)
		return
	}
	if reply.Model == "" {
		reply.Model = req.Model
	}
	if req.Stream {
		s.dialect.writeStream(w, req, reply, id)
	} else {
		s.dialect.writeJSON(w, req, reply, id)
	}
}

// echo is the default reply: the last user message, with word counts as
// usage.
func echo(req Request) Reply {
	text := req.LastUserText()
	in := len(strings.Fields(req.System))
	for _, m := range req.Messages {
		in += len(strings.Fields(m.Text))
	}
	return Reply{Text: text, InputTokens: int64(in), OutputTokens: int64(len(strings.Fields(text)))}
}

// chunks splits s into pieces of n runes.
func chunks(s string, n int) []string {
	if n <= 0 {
		n = 4
	}
	runes := []rune(s)
	var out []string
	for i := 0; i < len(runes); i += n {
		out = append(out, string(runes[i:min(i+n, len(runes))]))
	}
	return out
}

func writeJSONBody(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// sse writes server-sent events and flushes each one.
type sse struct {
	w http.ResponseWriter
	f http.Flusher
}

func startSSE(w http.ResponseWriter) *sse {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	f, _ := w.(http.Flusher)
	return &sse{w: w, f: f}
}

func (s *sse) send(event string, data any) {
	if event != "" {
		fmt.Fprintf(s.w, "event: %s\n", event)
	}
	var b []byte
	if raw, ok := data.(string); ok {
		b = []byte(raw)
	} else {
		b, _ = json.Marshal(data)
	}
	fmt.Fprintf(s.w, "data: %s\n\n", b)
	if s.f != nil {
		s.f.Flush()
	}
}

// rawOrEmpty returns a JSON object, "{}" for empty input.
func rawOrEmpty(s string) json.RawMessage {
	if strings.TrimSpace(s) == "" {
		return json.RawMessage("{}")
	}
	return json.RawMessage(s)
}
