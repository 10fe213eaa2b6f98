package llm

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
)

func TestMock(t *testing.T) {
	t.Parallel()
	user := func(s string) Message { return Message{Role: RoleUser, Content: s} }
	assistant := Message{Role: RoleAssistant, Content: "earlier answer"}
	tests := []struct {
		name      string
		req       Request
		wantText  string
		wantCalls []ToolCall
		wantUsage Usage
	}{
		{
			name:      "echoes the last user message and counts words",
			req:       Request{Model: "echo", System: "Be nice", Messages: []Message{user("first"), assistant, user("hello mock world")}},
			wantText:  "hello mock world",
			wantUsage: Usage{InputTokens: 2 + 1 + 2 + 3, OutputTokens: 3},
		},
		{
			name:      "JSON mode echoes the prompt as an object",
			req:       Request{Model: "echo", JSON: true, Messages: []Message{user(`say "hi"`)}},
			wantText:  `{"prompt":"say \"hi\""}`,
			wantUsage: Usage{InputTokens: 2, OutputTokens: 2},
		},
		{
			name:      "scripted response and usage",
			req:       Request{Model: "any-model", Messages: []Message{user("q")}, Mock: &domain.MockOptions{Response: "scripted", InputTokens: 100, OutputTokens: 20}},
			wantText:  "scripted",
			wantUsage: Usage{InputTokens: 100, OutputTokens: 20},
		},
		{
			name:      "responses follow the assistant turns",
			req:       Request{Model: "echo", Messages: []Message{user("q"), assistant, user("again")}, Mock: &domain.MockOptions{Responses: []string{"one", "two", "three"}}},
			wantText:  "two",
			wantUsage: Usage{InputTokens: 4, OutputTokens: 1},
		},
		{
			name:      "the last response repeats once they run out",
			req:       Request{Model: "echo", Messages: []Message{user("q"), assistant, assistant, assistant}, Mock: &domain.MockOptions{Responses: []string{"one", "two"}}},
			wantText:  "two",
			wantUsage: Usage{InputTokens: 7, OutputTokens: 1},
		},
		{
			name: "tool calls on the first call",
			req: Request{Model: "echo", Messages: []Message{user("weather?")}, Mock: &domain.MockOptions{
				Response:  "sunny",
				ToolCalls: []domain.MockToolCall{{Name: "get_weather", Arguments: json.RawMessage(`{"city": "Oslo"}`)}, {Name: "now"}},
			}},
			wantCalls: []ToolCall{
				{ID: "call_1", Name: "get_weather", Arguments: json.RawMessage(`{"city": "Oslo"}`)},
				{ID: "call_2", Name: "now", Arguments: json.RawMessage(`{}`)},
			},
			wantUsage: Usage{InputTokens: 1, OutputTokens: 3},
		},
		{
			name: "answers after the tool round",
			req: Request{Model: "echo", Messages: []Message{user("weather?"), {Role: RoleAssistant, ToolCalls: []ToolCall{{ID: "call_1", Name: "get_weather"}}}, {Role: RoleTool, ToolCallID: "call_1", Content: "sun"}},
				Mock: &domain.MockOptions{Response: "sunny", ToolCalls: []domain.MockToolCall{{Name: "get_weather"}}}},
			wantText:  "sunny",
			wantUsage: Usage{InputTokens: 2, OutputTokens: 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, err := NewMock().Complete(context.Background(), &tc.req)
			if err != nil {
				t.Fatalf("Complete: %v", err)
			}
			if res.Text != tc.wantText || !reflect.DeepEqual(res.ToolCalls, tc.wantCalls) || res.Usage != tc.wantUsage {
				t.Errorf("got %q %v %+v, want %q %v %+v", res.Text, res.ToolCalls, res.Usage, tc.wantText, tc.wantCalls, tc.wantUsage)
			}
			again, _ := NewMock().Complete(context.Background(), &tc.req)
			if !reflect.DeepEqual(res, again) {
				t.Errorf("not deterministic: %+v then %+v", res, again)
			}
		})
	}
}

func TestMockFailFirst(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		mock     domain.MockOptions
		attempt  int
		wantKind Kind // "" for success
	}{
		{"attempt 0 counts as the first", domain.MockOptions{FailFirst: 1}, 0, KindUnavailable},
		{"first attempt fails", domain.MockOptions{FailFirst: 2}, 1, KindUnavailable},
		{"second attempt fails", domain.MockOptions{FailFirst: 2}, 2, KindUnavailable},
		{"third attempt succeeds", domain.MockOptions{FailFirst: 2}, 3, ""},
		{"chosen kind", domain.MockOptions{FailFirst: 1, FailWith: "auth_failed"}, 1, KindAuthFailed},
		{"rate limited", domain.MockOptions{FailFirst: 1, FailWith: "rate_limited"}, 1, KindRateLimited},
		{"unknown kind is a bad request", domain.MockOptions{FailFirst: 1, FailWith: "explode"}, 1, KindBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewMock().Complete(context.Background(), &Request{Model: "echo", Attempt: tc.attempt, Mock: &tc.mock})
			if KindOf(err) != tc.wantKind {
				t.Errorf("err = %v, want kind %q", err, tc.wantKind)
			}
		})
	}
}

func TestMockStreamsInChunks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		chunkChars int
		text       string
		want       []string
	}{
		{3, "abcdefgh", []string{"abc", "def", "gh"}},
		{2, "héllo", []string{"hé", "ll", "o"}},
		{0, "short", []string{"short"}},
	}
	for _, tc := range tests {
		var got []string
		_, err := NewMock().Complete(context.Background(), &Request{
			Model: "echo", OnDelta: func(s string) { got = append(got, s) },
			Mock: &domain.MockOptions{Response: tc.text, StreamChunkChars: tc.chunkChars},
		})
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("chunks of %q by %d = %q, %v; want %q", tc.text, tc.chunkChars, got, err, tc.want)
		}
	}
}

func TestMockLatencyWaits(t *testing.T) {
	t.Parallel()
	start := time.Now()
	if _, err := NewMock().Complete(context.Background(), &Request{Model: "echo", Mock: &domain.MockOptions{LatencyMS: 30}}); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if elapsed := time.Since(start); elapsed < 30*time.Millisecond {
		t.Errorf("returned after %s, before the scripted latency", elapsed)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := NewMock().Complete(ctx, &Request{Model: "echo"})
	if KindOf(err) != KindTimeout || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled call: err = %v, want timeout wrapping context.Canceled", err)
	}
}
