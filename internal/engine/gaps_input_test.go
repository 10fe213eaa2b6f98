package engine_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/superagent-hq/superagent/internal/domain"
)

// stepInputOf decodes a step's recorded input.
func stepInputOf(t *testing.T, s domain.Step) map[string]any {
	t.Helper()
	if len(s.Input) == 0 {
		t.Fatalf("step %s (%s) has no input recorded", s.NodeID, s.Status)
	}
	var v map[string]any
	if err := json.Unmarshal(s.Input, &v); err != nil {
		t.Fatalf("step %s input %s: %v", s.NodeID, s.Input, err)
	}
	return v
}

// TestStepsRecordWhatTheyReceived: every step records its input — the
// execution input, the outputs of the nodes upstream of it (not those of a
// parallel branch, not a skipped one) and an llm node's rendered prompts —
// whichever way it ran (in-process kinds, an llm step that records its
// start, a step that failed).
func TestStepsRecordWhatTheyReceived(t *testing.T) {
	t.Parallel()
	eachKind(t, func(t *testing.T, kind string) {
		h := newHarness(t, kind, harnessOpts{}).withOrg("stepinput")
		slow := mockLLM("slow", domain.MockOptions{LatencyMS: 20})
		slow.LLM.Prompt = "say {{ .input.word }} {{ .nodes.a }}"
		slow.LLM.SystemPrompt = "you are {{ .input.word }}"
		fast := mockLLM("fast", domain.MockOptions{})
		fast.LLM.Prompt = "again {{ .nodes.slow }}"
		wf := h.workflow(domain.Definition{
			Nodes: []domain.Node{transform("a", "input.n + 1"), transform("side", "input.n * 100"), slow, fast,
				transform("never", `"no"`), transform("join", `nodes.fast`)},
			Edges: []domain.Edge{edge("a", "slow"), edge("slow", "fast"), {From: "a", To: "never", Condition: "false"},
				edge("fast", "join"), edge("never", "join"), edge("side", "join")},
		})
		exe := h.wait(h.start(wf, map[string]any{"n": 1, "word": "hi"}).ID)
		if exe.Status != domain.ExecutionSucceeded {
			t.Fatalf("status %s: %s", exe.Status, exe.Error)
		}
		in := map[string]any{"n": 1.0, "word": "hi"}
		steps := h.steps(exe.ID)
		for _, tc := range []struct {
			node  string
			nodes map[string]any
			extra map[string]any
		}{
			{"a", map[string]any{}, nil},
			{"side", map[string]any{}, nil},
			{"slow", map[string]any{"a": 2.0}, map[string]any{"prompt": "say hi 2", "system_prompt": "you are hi"}},
			{"fast", map[string]any{"a": 2.0, "slow": "say hi 2"}, map[string]any{"prompt": "again say hi 2"}},
			{"join", map[string]any{"a": 2.0, "slow": "say hi 2", "fast": "again say hi 2", "side": 100.0}, nil},
		} {
			want := map[string]any{"input": in, "nodes": tc.nodes}
			for k, v := range tc.extra {
				want[k] = v
			}
			if got := stepInputOf(t, steps[tc.node]); !reflect.DeepEqual(got, want) {
				t.Errorf("step %s input = %v\nwant %v", tc.node, got, want)
			}
		}
		if s := steps["never"]; s.Status != domain.StepSkipped || len(s.Input) != 0 {
			t.Errorf("skipped step = %s with input %s", s.Status, s.Input)
		}

		// A step that fails for good records what it was given too.
		wf2 := h.workflow(domain.Definition{Nodes: []domain.Node{transform("a", "input.n"), transform("bad", `int(input.word)`)},
			Edges: []domain.Edge{edge("a", "bad")}})
		exe = h.wait(h.start(wf2, map[string]any{"n": 5, "word": "not a number"}).ID)
		bad := h.steps(exe.ID)["bad"]
		if exe.Status != domain.ExecutionFailed || bad.Status != domain.StepFailed {
			t.Fatalf("execution %s, step %s: %s", exe.Status, bad.Status, exe.Error)
		}
		want := map[string]any{"input": map[string]any{"n": 5.0, "word": "not a number"}, "nodes": map[string]any{"a": 5.0}}
		if got := stepInputOf(t, bad); !reflect.DeepEqual(got, want) {
			t.Errorf("failed step input = %v, want %v", got, want)
		}
	})
}

// TestLargeStepInputIsClipped: an input beyond the bound is recorded as a
// clipped preview with its full size, not copied whole onto every step.
func TestLargeStepInputIsClipped(t *testing.T) {
	t.Parallel()
	eachKind(t, func(t *testing.T, kind string) {
		h := newHarness(t, kind, harnessOpts{}).withOrg("biginput")
		wf := h.workflow(domain.Definition{Nodes: []domain.Node{transform("a", "len(input.text)")}})
		text := strings.Repeat("é", 100_000) // 200 kB of two-byte runes
		exe := h.wait(h.start(wf, map[string]any{"text": text}).ID)
		if exe.Status != domain.ExecutionSucceeded {
			t.Fatalf("status %s: %s", exe.Status, exe.Error)
		}
		s := h.steps(exe.ID)["a"]
		if len(s.Input) > 64<<10 {
			t.Errorf("recorded input is %d bytes", len(s.Input))
		}
		got := stepInputOf(t, s)
		preview, _ := got["preview"].(string)
		if got["truncated"] != true || got["bytes"].(float64) < 200_000 || !strings.HasPrefix(preview, `{"input":{"text":"éé`) {
			t.Errorf("clipped input = truncated %v, bytes %v, preview %.40q", got["truncated"], got["bytes"], preview)
		}
	})
}
