package llm

import (
	"strings"
	"testing"
)

func TestCost(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name            string
		provider, model string
		usage           Usage
		want            float64
		known           bool
	}{
		{
			// (800k × 0.15 + 200k × 0.075 + 500k × 0.60) / 1M
			name: "openai cached tokens at the cached rate only", provider: "openai", model: "gpt-4o-mini",
			usage: Usage{InputTokens: 1_000_000, CachedInputTokens: 200_000, OutputTokens: 500_000},
			want:  0.435, known: true,
		},
		{
			// (1200 − 1000) × 3 + 1000 × 0.30 + 30 × 15 = 600 + 300 + 450 → 1350 / 1M
			name: "anthropic normalised usage", provider: "anthropic", model: "claude-sonnet-4-5",
			usage: Usage{InputTokens: 1200, CachedInputTokens: 1000, OutputTokens: 30},
			want:  0.00135, known: true,
		},
		{
			name: "dated anthropic version resolves to its base model", provider: "anthropic", model: "claude-sonnet-4-5-20250929",
			usage: Usage{InputTokens: 1200, CachedInputTokens: 1000, OutputTokens: 30},
			want:  0.00135, known: true,
		},
		{
			// 10 × 2.50 + 5 × 10 = 75 → 0.000075
			name: "dated openai version resolves to its base model", provider: "openai", model: "gpt-4o-2024-08-06",
			usage: Usage{InputTokens: 10, OutputTokens: 5},
			want:  0.000075, known: true,
		},
		{
			name: "latest alias", provider: "anthropic", model: "claude-3-5-haiku-latest",
			usage: Usage{InputTokens: 1_000_000, OutputTokens: 1_000_000},
			want:  4.80, known: true,
		},
		{
			name: "gpt-4o-mini is not priced as gpt-4o", provider: "openai", model: "gpt-4o-mini",
			usage: Usage{InputTokens: 1_000_000},
			want:  0.15, known: true,
		},
		{
			name: "cached above input is clamped to input", provider: "openai", model: "gpt-4.1",
			usage: Usage{InputTokens: 100, CachedInputTokens: 500},
			want:  0.00005, known: true, // 100 × 0.50 / 1M
		},
		{
			name: "mock is free", provider: "mock", model: "echo",
			usage: Usage{InputTokens: 1_000_000, OutputTokens: 1_000_000},
			want:  0, known: true,
		},
		{
			name: "unknown model", provider: "openai", model: "gpt-99",
			usage: Usage{InputTokens: 10}, want: 0, known: false,
		},
		{
			name: "model of another provider is unknown", provider: "ollama", model: "gpt-4o",
			usage: Usage{InputTokens: 10}, want: 0, known: false,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, known := Cost(tc.provider, tc.model, tc.usage)
			if got != tc.want || known != tc.known {
				t.Errorf("Cost = %v, %v; want exactly %v, %v", got, known, tc.want, tc.known)
			}
		})
	}
}

func TestPriceTableOverrides(t *testing.T) {
	t.Parallel()
	table, err := NewPriceTable(`{
		"openai:gpt-4o": {"input": 1, "output": 2, "cached_input": 0.5},
		"llama3.1:8b":   {"input": 0.2, "output": 0.4},
		"ollama:free":   {"input": 0, "output": 0}
	}`)
	if err != nil {
		t.Fatalf("NewPriceTable: %v", err)
	}
	tests := []struct {
		name            string
		provider, model string
		usage           Usage
		want            float64
		known           bool
	}{
		// (600 × 1 + 400 × 0.5 + 100 × 2) / 1M
		{"override replaces the list price", "openai", "gpt-4o", Usage{InputTokens: 1000, CachedInputTokens: 400, OutputTokens: 100}, 0.001, true},
		{"bare key applies to any provider", "ollama", "llama3.1:8b", Usage{InputTokens: 1_000_000, OutputTokens: 1_000_000}, 0.6, true},
		// cached_input omitted: cached tokens cost the input rate
		{"omitted cached rate is the input rate", "vllm", "llama3.1:8b", Usage{InputTokens: 1_000_000, CachedInputTokens: 1_000_000}, 0.2, true},
		{"zero price is known", "ollama", "free", Usage{InputTokens: 5}, 0, true},
		{"list prices still apply", "openai", "gpt-4o-mini", Usage{InputTokens: 1_000_000}, 0.15, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, known := table.Cost(tc.provider, tc.model, tc.usage)
			if got != tc.want || known != tc.known {
				t.Errorf("Cost = %v, %v; want exactly %v, %v", got, known, tc.want, tc.known)
			}
		})
	}
}

func TestNewPriceTableErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, config, wantErr string
	}{
		{"malformed JSON", `{"gpt-4o": `, "parse model prices"},
		{"not an object", `[1, 2]`, "parse model prices"},
		{"unknown field", `{"gpt-4o": {"input": 1, "output": 2, "cache": 1}}`, "unknown field"},
		{"missing output", `{"gpt-4o": {"input": 1}}`, "input and output are required"},
		{"negative rate", `{"gpt-4o": {"input": -1, "output": 2}}`, "not negative"},
		{"empty model", `{"": {"input": 1, "output": 2}}`, "empty model name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewPriceTable(tc.config)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
	if _, err := NewPriceTable("  "); err != nil {
		t.Errorf("empty config: %v", err)
	}
}
