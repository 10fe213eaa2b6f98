package llm

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/llm/llmtest"
)

func TestKindForStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status int
		want   Kind
	}{
		{400, KindBadRequest}, {401, KindAuthFailed}, {403, KindAuthFailed}, {404, KindBadRequest},
		{408, KindTimeout}, {413, KindBadRequest}, {422, KindBadRequest}, {429, KindRateLimited},
		{500, KindUnavailable}, {502, KindUnavailable}, {503, KindUnavailable}, {504, KindTimeout}, {529, KindUnavailable},
	}
	for _, tc := range tests {
		if got := kindForStatus(tc.status); got != tc.want {
			t.Errorf("kindForStatus(%d) = %s, want %s", tc.status, got, tc.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		header http.Header
		want   time.Duration
	}{
		{"none", http.Header{}, 0},
		{"seconds", http.Header{"Retry-After": {"3"}}, 3 * time.Second},
		{"fractional seconds", http.Header{"Retry-After": {"1.5"}}, 1500 * time.Millisecond},
		{"zero", http.Header{"Retry-After": {"0"}}, 0},
		{"negative", http.Header{"Retry-After": {"-4"}}, 0},
		{"HTTP date", http.Header{"Retry-After": {"Sun, 01 Mar 2026 12:00:30 GMT"}}, 30 * time.Second},
		{"HTTP date in the past", http.Header{"Retry-After": {"Sun, 01 Mar 2026 11:00:00 GMT"}}, 0},
		{"garbage", http.Header{"Retry-After": {"soon"}}, 0},
		{"milliseconds win", http.Header{"Retry-After-Ms": {"250"}, "Retry-After": {"1"}}, 250 * time.Millisecond},
		{"bad milliseconds fall back", http.Header{"Retry-After-Ms": {"x"}, "Retry-After": {"2"}}, 2 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := parseRetryAfter(tc.header, now); got != tc.want {
				t.Errorf("parseRetryAfter = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestErrorHelpers(t *testing.T) {
	t.Parallel()
	e := &Error{Kind: KindRateLimited, Provider: "openai", Status: 429, RetryAfter: 2 * time.Second, Message: "slow down"}
	wrapped := fmt.Errorf("step node_a: %w", e)
	if got, want := e.Error(), "llm openai rate_limited (HTTP 429): slow down (retry after 2s)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if KindOf(wrapped) != KindRateLimited || !IsRetryable(wrapped) || RetryAfterOf(wrapped) != 2*time.Second {
		t.Errorf("helpers do not see through wrapping: %s %v %s", KindOf(wrapped), IsRetryable(wrapped), RetryAfterOf(wrapped))
	}
	if KindOf(nil) != "" || KindOf(errors.New("plain")) != "" || IsRetryable(errors.New("plain")) {
		t.Error("errors without a Kind must report none")
	}
	for kind, want := range map[Kind]bool{
		KindRateLimited: true, KindUnavailable: true, KindTimeout: true,
		KindAuthFailed: false, KindBadRequest: false, KindInvalidResponse: false,
	} {
		if kind.Retryable() != want {
			t.Errorf("%s.Retryable() = %v", kind, !want)
		}
	}
}

// TestErrorsNeverCarryTheKey checks that a provider message quoting the key
// is redacted, for both wire formats.
func TestErrorsNeverCarryTheKey(t *testing.T) {
	t.Parallel()
	servers := map[string]func(testing.TB, ...llmtest.Option) *llmtest.Server{
		"openai":    llmtest.NewOpenAI,
		"anthropic": llmtest.NewAnthropic,
	}
	for name, newServer := range servers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t)
			srv.Push(llmtest.Reply{Status: 400, ErrorMessage: "key " + srv.APIKey() + " cannot use this model"})
			creds := Credentials{APIKey: srv.APIKey(), BaseURL: srv.URL()}
			var p Provider = NewOpenAI("openai", creds, nil)
			if name == "anthropic" {
				p = NewAnthropic(creds, nil)
			}
			_, err := p.Complete(context.Background(), &Request{Model: "m", Messages: []Message{{Role: RoleUser, Content: "Hi"}}})
			if KindOf(err) != KindBadRequest {
				t.Fatalf("err = %v, want bad_request", err)
			}
			if strings.Contains(err.Error(), srv.APIKey()) {
				t.Errorf("error contains the key: %q", err.Error())
			}
			if !strings.Contains(err.Error(), "cannot use this model") {
				t.Errorf("error lost the provider's message: %q", err.Error())
			}
		})
	}
}
