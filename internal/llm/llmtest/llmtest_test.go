package llmtest

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func post(t *testing.T, url string, header map[string]string, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

// sseEvents returns the event names (or "data" for unnamed events) and data
// lines of a stream.
func sseEvents(t *testing.T, r io.Reader) (names, data []string) {
	t.Helper()
	sc := bufio.NewScanner(r)
	pending := ""
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			pending = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			if pending == "" {
				pending = "data"
			}
			names = append(names, pending)
			data = append(data, strings.TrimPrefix(line, "data: "))
			pending = ""
		}
	}
	return names, data
}

func TestOpenAIStreamWire(t *testing.T) {
	t.Parallel()
	srv := NewOpenAI(t)
	srv.Push(Reply{Text: "abcdef", ChunkChars: 3, InputTokens: 5, OutputTokens: 2, ToolCalls: []ToolCall{{ID: "c1", Name: "f", Arguments: `{"x":1}`}}})
	res := post(t, srv.URL()+"/chat/completions", map[string]string{"Authorization": "Bearer " + APIKey},
		`{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`)
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q", ct)
	}
	_, data := sseEvents(t, res.Body)
	if len(data) < 5 || data[len(data)-1] != "[DONE]" {
		t.Fatalf("stream = %q, want chunks ending with [DONE]", data)
	}
	var text, args strings.Builder
	var usage map[string]any
	for _, d := range data[:len(data)-1] {
		var c struct {
			Object  string `json:"object"`
			Choices []struct {
				Delta struct {
					Content   string `json:"content"`
					ToolCalls []struct {
						Function struct{ Arguments string } `json:"function"`
					} `json:"tool_calls"`
				} `json:"delta"`
			} `json:"choices"`
			Usage map[string]any `json:"usage"`
		}
		if err := json.Unmarshal([]byte(d), &c); err != nil || c.Object != "chat.completion.chunk" {
			t.Fatalf("chunk %q: %v", d, err)
		}
		for _, ch := range c.Choices {
			text.WriteString(ch.Delta.Content)
			for _, tc := range ch.Delta.ToolCalls {
				args.WriteString(tc.Function.Arguments)
			}
		}
		if c.Usage != nil {
			usage = c.Usage
		}
	}
	if text.String() != "abcdef" || args.String() != `{"x":1}` || usage["prompt_tokens"] != 5.0 {
		t.Errorf("text %q, args %q, usage %v", text.String(), args.String(), usage)
	}
}

func TestAnthropicStreamWire(t *testing.T) {
	t.Parallel()
	srv := NewAnthropic(t)
	srv.Push(Reply{Text: "hi there", ToolCalls: []ToolCall{{ID: "tu_1", Name: "f", Arguments: `{}`}}})
	res := post(t, srv.URL()+"/v1/messages", map[string]string{"X-Api-Key": APIKey, "Anthropic-Version": "2023-06-01"},
		`{"model":"claude-haiku-4-5","max_tokens":10,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	names, _ := sseEvents(t, res.Body)
	want := []string{
		"message_start", "ping",
		"content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
		"content_block_start", "content_block_delta", "content_block_stop",
		"message_delta", "message_stop",
	}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("events = %v\nwant      %v", names, want)
	}
}

func TestServerAuthAndRecording(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		srv        func(t *testing.T) *Server
		path       string
		header     map[string]string
		body       string
		wantStatus int
		wantErr    string // error type in the body
	}{
		{"openai wrong key", func(t *testing.T) *Server { return NewOpenAI(t) }, "/chat/completions",
			map[string]string{"Authorization": "Bearer nope"}, `{"model":"m","messages":[]}`, 401, "invalid_request_error"},
		{"anthropic wrong key", func(t *testing.T) *Server { return NewAnthropic(t) }, "/v1/messages",
			map[string]string{"X-Api-Key": "nope", "Anthropic-Version": "2023-06-01"}, `{"model":"m","messages":[]}`, 401, "authentication_error"},
		{"anthropic without version", func(t *testing.T) *Server { return NewAnthropic(t) }, "/v1/messages",
			map[string]string{"X-Api-Key": APIKey}, `{"model":"m","messages":[]}`, 400, "invalid_request_error"},
		{"openai malformed body", func(t *testing.T) *Server { return NewOpenAI(t) }, "/chat/completions",
			map[string]string{"Authorization": "Bearer " + APIKey}, `{`, 400, "invalid_request_error"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := tc.srv(t)
			res := post(t, srv.URL()+tc.path, tc.header, tc.body)
			var body struct {
				Error struct{ Type string } `json:"error"`
			}
			_ = json.NewDecoder(res.Body).Decode(&body)
			if res.StatusCode != tc.wantStatus || body.Error.Type != tc.wantErr {
				t.Errorf("got %d %q, want %d %q", res.StatusCode, body.Error.Type, tc.wantStatus, tc.wantErr)
			}
			if n := len(srv.Requests()); n != 1 {
				t.Errorf("recorded %d requests, want the refused one", n)
			}
		})
	}
}

func TestHandleAnswersAfterPushedReplies(t *testing.T) {
	t.Parallel()
	srv := NewOpenAI(t)
	srv.Push(Reply{Text: "pushed"})
	srv.Handle(func(r Request) Reply { return Reply{Text: "handled " + r.LastUserText()} })
	var got []string
	for range 2 {
		res := post(t, srv.URL()+"/chat/completions", map[string]string{"Authorization": "Bearer " + APIKey},
			`{"model":"m","messages":[{"role":"system","content":"sys"},{"role":"user","content":[{"type":"text","text":"q"}]}]}`)
		var body struct {
			Choices []struct {
				Message struct{ Content string } `json:"message"`
			} `json:"choices"`
		}
		_ = json.NewDecoder(res.Body).Decode(&body)
		got = append(got, body.Choices[0].Message.Content)
	}
	if !reflect.DeepEqual(got, []string{"pushed", "handled q"}) {
		t.Errorf("answers = %q", got)
	}
	if r := srv.LastRequest(); r.System != "sys" || len(r.Messages) != 1 || r.Messages[0].Text != "q" {
		t.Errorf("recorded %+v", r)
	}
}
