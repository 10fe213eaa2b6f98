package llm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// Price is what a model costs, in USD per million tokens.
type Price struct {
	Input  float64 `json:"input"`
	Output float64 `json:"output"`
	// CachedInput is the rate of input tokens read from the prompt cache.
	CachedInput float64 `json:"cached_input"`
}

// defaultPrices are list prices in USD per million tokens (standard tier,
// no batch discount), keyed "provider:model". Dated model versions
// ("gpt-4o-2024-08-06", "claude-sonnet-4-5-20250929") and "-latest" aliases
// resolve to their base name. It is the package's only global, and is never
// written.
var defaultPrices = map[string]Price{
	"openai:gpt-4o":               {Input: 2.50, Output: 10.00, CachedInput: 1.25},
	"openai:gpt-4o-mini":          {Input: 0.15, Output: 0.60, CachedInput: 0.075},
	"openai:gpt-4.1":              {Input: 2.00, Output: 8.00, CachedInput: 0.50},
	"openai:gpt-4.1-mini":         {Input: 0.40, Output: 1.60, CachedInput: 0.10},
	"openai:gpt-4.1-nano":         {Input: 0.10, Output: 0.40, CachedInput: 0.025},
	"openai:gpt-5":                {Input: 1.25, Output: 10.00, CachedInput: 0.125},
	"openai:gpt-5-mini":           {Input: 0.25, Output: 2.00, CachedInput: 0.025},
	"openai:gpt-5-nano":           {Input: 0.05, Output: 0.40, CachedInput: 0.005},
	"openai:o1":                   {Input: 15.00, Output: 60.00, CachedInput: 7.50},
	"openai:o3":                   {Input: 2.00, Output: 8.00, CachedInput: 0.50},
	"openai:o3-mini":              {Input: 1.10, Output: 4.40, CachedInput: 0.55},
	"openai:o4-mini":              {Input: 1.10, Output: 4.40, CachedInput: 0.275},
	"anthropic:claude-opus-4-5":   {Input: 5.00, Output: 25.00, CachedInput: 0.50},
	"anthropic:claude-opus-4-1":   {Input: 15.00, Output: 75.00, CachedInput: 1.50},
	"anthropic:claude-opus-4-0":   {Input: 15.00, Output: 75.00, CachedInput: 1.50},
	"anthropic:claude-opus-4":     {Input: 15.00, Output: 75.00, CachedInput: 1.50},
	"anthropic:claude-sonnet-4-5": {Input: 3.00, Output: 15.00, CachedInput: 0.30},
	"anthropic:claude-sonnet-4-0": {Input: 3.00, Output: 15.00, CachedInput: 0.30},
	"anthropic:claude-sonnet-4":   {Input: 3.00, Output: 15.00, CachedInput: 0.30},
	"anthropic:claude-3-7-sonnet": {Input: 3.00, Output: 15.00, CachedInput: 0.30},
	"anthropic:claude-haiku-4-5":  {Input: 1.00, Output: 5.00, CachedInput: 0.10},
	"anthropic:claude-3-5-haiku":  {Input: 0.80, Output: 4.00, CachedInput: 0.08},
}

// PriceTable looks up model prices: overrides first (a "provider:model"
// key, then a bare "model" key for any provider), then the built-in list
// prices. Every mock model costs 0. It is read-only once built, so safe for
// concurrent use.
type PriceTable struct {
	overrides map[string]Price
}

// NewPriceTable returns the built-in prices with overrides applied.
// overrides is a JSON object, empty for none:
//
//	{"openai:gpt-4o": {"input": 2.5, "output": 10, "cached_input": 1.25},
//	 "llama3.1:8b":   {"input": 0, "output": 0}}
//
// A key without a colon applies to that model name under any provider. An
// omitted cached_input means the input rate. Negative rates, unknown fields
// and malformed JSON are errors.
func NewPriceTable(overrides string) (*PriceTable, error) {
	t := &PriceTable{overrides: map[string]Price{}}
	if strings.TrimSpace(overrides) == "" {
		return t, nil
	}
	var raw map[string]struct {
		Input       *float64 `json:"input"`
		Output      *float64 `json:"output"`
		CachedInput *float64 `json:"cached_input"`
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(overrides)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf(`parse model prices (want {"model": {"input": x, "output": y, "cached_input": z}} in USD per million tokens): %w`, err)
	}
	for model, p := range raw {
		if strings.TrimSpace(model) == "" {
			return nil, fmt.Errorf("parse model prices: empty model name")
		}
		if p.Input == nil || p.Output == nil {
			return nil, fmt.Errorf("parse model prices: %q: input and output are required", model)
		}
		price := Price{Input: *p.Input, Output: *p.Output, CachedInput: *p.Input}
		if p.CachedInput != nil {
			price.CachedInput = *p.CachedInput
		}
		for _, v := range []float64{price.Input, price.Output, price.CachedInput} {
			if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("parse model prices: %q: rates must be finite and not negative", model)
			}
		}
		t.overrides[model] = price
	}
	return t, nil
}

// Lookup returns the price of provider's model, and whether one is known.
func (t *PriceTable) Lookup(provider, model string) (Price, bool) {
	if provider == "mock" {
		return Price{}, true
	}
	for _, m := range modelAliases(model) {
		if t != nil {
			if p, ok := t.overrides[provider+":"+m]; ok {
				return p, true
			}
			if p, ok := t.overrides[m]; ok {
				return p, true
			}
		}
		if p, ok := defaultPrices[provider+":"+m]; ok {
			return p, true
		}
	}
	return Price{}, false
}

// Cost returns what usage of provider's model cost in USD, and whether the
// model's price is known (0, false when not). Cached input tokens are part
// of Usage.InputTokens (see Usage) and are charged at the cached rate only:
//
//	((input − cached) × Input + cached × CachedInput + output × Output) / 1e6
//
// The result is rounded to 1e-10 USD so that equal usage always yields the
// same float.
func (t *PriceTable) Cost(provider, model string, u Usage) (float64, bool) {
	p, ok := t.Lookup(provider, model)
	if !ok {
		return 0, false
	}
	cached := min(max(u.CachedInputTokens, 0), max(u.InputTokens, 0))
	uncached := max(u.InputTokens, 0) - cached
	usd := (float64(uncached)*p.Input + float64(cached)*p.CachedInput + float64(max(u.OutputTokens, 0))*p.Output) / 1e6
	return math.Round(usd*1e10) / 1e10, true
}

// Cost is PriceTable.Cost with the built-in prices only.
func Cost(provider, model string, u Usage) (float64, bool) {
	var t *PriceTable
	return t.Cost(provider, model, u)
}

// modelAliases returns model, then model without a date suffix
// ("-2024-08-06", "-20250929") or a "-latest" suffix.
func modelAliases(model string) []string {
	out := []string{model}
	if base, ok := strings.CutSuffix(model, "-latest"); ok {
		return append(out, base)
	}
	i := strings.LastIndexByte(model, '-')
	if i < 0 {
		return out
	}
	if tail := model[i+1:]; len(tail) == 8 && allDigits(tail) {
		return append(out, model[:i]) // -20250929
	}
	// -2024-08-06: three dash-separated groups of 4, 2 and 2 digits.
	if len(model) > 11 {
		tail := model[len(model)-11:]
		if tail[0] == '-' && tail[5] == '-' && tail[8] == '-' && allDigits(tail[1:5]+tail[6:8]+tail[9:]) {
			return append(out, model[:len(model)-11])
		}
	}
	return out
}

func allDigits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
