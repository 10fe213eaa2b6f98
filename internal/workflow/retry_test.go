package workflow

import (
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
)

func TestEffectiveRetry(t *testing.T) {
	t.Parallel()
	def := EffectiveRetry(nil)
	if def != (domain.RetryPolicy{MaxAttempts: 3, InitialBackoffMS: 1000, MaxBackoffMS: 60000, Multiplier: 2}) {
		t.Fatalf("default policy = %+v", def)
	}
	got := EffectiveRetry(&domain.RetryPolicy{MaxAttempts: 7, Multiplier: 1.5})
	if got != (domain.RetryPolicy{MaxAttempts: 7, InitialBackoffMS: 1000, MaxBackoffMS: 60000, Multiplier: 1.5}) {
		t.Fatalf("partial policy = %+v", got)
	}
}

func TestBackoffCeiling(t *testing.T) {
	t.Parallel()
	p := domain.RetryPolicy{}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute}
	for i, w := range want {
		if got := BackoffCeiling(p, i+1); got != w {
			t.Errorf("attempt %d: ceiling %v, want %v", i+1, got, w)
		}
	}
	if got := BackoffCeiling(p, 10_000); got != time.Minute {
		t.Errorf("attempt 10000: ceiling %v, want the maximum", got)
	}
	if got := BackoffCeiling(domain.RetryPolicy{InitialBackoffMS: 200, Multiplier: 3, MaxBackoffMS: 1000}, 3); got != time.Second {
		t.Errorf("custom policy, attempt 3: %v, want 1s (capped from 1.8s)", got)
	}
	if got := BackoffCeiling(p, 0); got != time.Second {
		t.Errorf("attempt 0: %v, want the initial backoff", got)
	}
}

func TestBackoffJitter(t *testing.T) {
	t.Parallel()
	p := domain.RetryPolicy{InitialBackoffMS: 100, MaxBackoffMS: 1000}
	for attempt := 1; attempt <= 6; attempt++ {
		ceiling := BackoffCeiling(p, attempt)
		seen := map[time.Duration]bool{}
		for range 200 {
			d := Backoff(p, attempt)
			if d < 0 || d > ceiling {
				t.Fatalf("attempt %d: backoff %v outside [0, %v]", attempt, d, ceiling)
			}
			seen[d] = true
		}
		if len(seen) < 50 {
			t.Errorf("attempt %d: only %d distinct waits in 200: no jitter", attempt, len(seen))
		}
	}
}

func TestStepTimeout(t *testing.T) {
	t.Parallel()
	tests := []struct {
		node    *domain.Node
		horizon time.Duration
		want    time.Duration
	}{
		{nil, 0, 60 * time.Second},
		{&domain.Node{}, time.Hour, 60 * time.Second},
		{&domain.Node{TimeoutSeconds: 300}, time.Hour, 5 * time.Minute},
		{&domain.Node{TimeoutSeconds: 300}, 2 * time.Minute, 2 * time.Minute},
		{&domain.Node{}, 30 * time.Second, 30 * time.Second},
	}
	for _, tt := range tests {
		if got := StepTimeout(tt.node, tt.horizon); got != tt.want {
			t.Errorf("StepTimeout(%+v, %v) = %v, want %v", tt.node, tt.horizon, got, tt.want)
		}
	}
}
