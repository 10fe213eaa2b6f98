package workflow

import (
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/superagent-hq/superagent/internal/domain"
)

func library() map[string]*domain.Node {
	return map[string]*domain.Node{
		"agt_writer": {ID: "ignored", Type: domain.NodeLLM, Name: "Writer", Description: "Writes things", LLM: &domain.LLMConfig{
			Model: "openai:gpt-4o-mini", SystemPrompt: "You write.", Prompt: "Write about {{.input.topic}}",
			Temperature: ptrTo(0.7), MaxTokens: 800, Tools: []string{"http_request"},
			Mock: &domain.MockOptions{Response: "lib", LatencyMS: 5},
		}, Retry: &domain.RetryPolicy{MaxAttempts: 4, InitialBackoffMS: 200}, TimeoutSeconds: 90},
		"agt_caller": {Type: domain.NodeHTTP, HTTP: &domain.HTTPConfig{
			Method: "POST", URL: "https://api.example.com/v1", Headers: map[string]string{"Authorization": "Bearer x", "Accept": "application/json"},
		}},
	}
}

func lookupIn(lib map[string]*domain.Node) func(string) (*domain.Node, error) {
	return func(id string) (*domain.Node, error) {
		if n, ok := lib[id]; ok {
			return n, nil
		}
		return nil, domain.NotFound("agent")
	}
}

func TestResolveMergesLibraryAgents(t *testing.T) {
	t.Parallel()
	def := &domain.Definition{
		Nodes: []domain.Node{
			{ID: "draft", AgentID: "agt_writer"}, // pure reference
			{ID: "polish", AgentID: "agt_writer", Name: "Polisher", LLM: &domain.LLMConfig{
				Prompt: "Polish {{.nodes.draft}}", Temperature: ptrTo(0.0), Tools: []string{"json_extract"},
				Mock: &domain.MockOptions{Response: "mine"},
			}, Retry: &domain.RetryPolicy{MaxAttempts: 2}},
			{ID: "post", Type: domain.NodeHTTP, AgentID: "agt_caller", HTTP: &domain.HTTPConfig{
				Headers: map[string]string{"Authorization": "Bearer {{.input.token}}"}, Body: "{{.nodes.polish}}",
			}},
			{ID: "plain", Type: domain.NodeTransform, Transform: &domain.TransformConfig{Template: "x"}},
		},
		Edges: []domain.Edge{{From: "draft", To: "polish"}, {From: "polish", To: "post"}, {From: "post", To: "plain"}},
	}
	var before domain.Definition
	if err := deepCopy(def, &before); err != nil {
		t.Fatal(err)
	}
	if problems := Validate(def, Limits{}); !hasProblem(problems, wantProblem{"/agents/0/type", "type is required"}) {
		t.Fatalf("an unresolved reference must not validate: %+v", problems)
	}

	lookups := 0
	got, err := Resolve(def, func(id string) (*domain.Node, error) {
		lookups++
		return lookupIn(library())(id)
	})
	if err != nil {
		t.Fatal(err)
	}
	if lookups != 2 {
		t.Errorf("%d lookups for two distinct library agents", lookups)
	}
	if problems := Validate(got, Limits{}); len(problems) != 0 {
		t.Fatalf("resolved definition has problems: %+v", problems)
	}

	draft := got.Nodes[0]
	if draft.ID != "draft" || draft.AgentID != "agt_writer" || draft.Type != domain.NodeLLM || draft.Name != "Writer" || draft.TimeoutSeconds != 90 {
		t.Errorf("draft = %+v", draft)
	}
	if draft.LLM.Prompt != "Write about {{.input.topic}}" || *draft.LLM.Temperature != 0.7 {
		t.Errorf("draft.llm = %+v", draft.LLM)
	}

	polish := got.Nodes[1]
	llm := polish.LLM
	if polish.Name != "Polisher" || polish.Description != "Writes things" {
		t.Errorf("polish name/description = %q/%q", polish.Name, polish.Description)
	}
	if llm.Model != "openai:gpt-4o-mini" || llm.SystemPrompt != "You write." || llm.MaxTokens != 800 {
		t.Errorf("library fields lost: %+v", llm)
	}
	if llm.Prompt != "Polish {{.nodes.draft}}" || *llm.Temperature != 0 || !slices.Equal(llm.Tools, []string{"json_extract"}) {
		t.Errorf("overrides lost: %+v", llm)
	}
	if llm.Mock.Response != "mine" || llm.Mock.LatencyMS != 5 {
		t.Errorf("mock options must merge field by field: %+v", llm.Mock)
	}
	if *polish.Retry != (domain.RetryPolicy{MaxAttempts: 2, InitialBackoffMS: 200}) {
		t.Errorf("retry must merge field by field: %+v", polish.Retry)
	}

	post := got.Nodes[2].HTTP
	wantHeaders := map[string]string{"Authorization": "Bearer {{.input.token}}", "Accept": "application/json"}
	if post.Method != "POST" || post.URL != "https://api.example.com/v1" || post.Body != "{{.nodes.polish}}" || !reflect.DeepEqual(post.Headers, wantHeaders) {
		t.Errorf("post.http = %+v", post)
	}

	if !reflect.DeepEqual(got.Nodes[3], def.Nodes[3]) {
		t.Errorf("a node without agent_id changed: %+v", got.Nodes[3])
	}
	if !reflect.DeepEqual(&before, def) {
		t.Error("Resolve modified its input")
	}
	if lib := library()["agt_writer"]; lib.LLM.Prompt != "Write about {{.input.topic}}" {
		t.Error("Resolve modified the library node")
	}
}

func TestResolveProblems(t *testing.T) {
	t.Parallel()
	def := &domain.Definition{Nodes: []domain.Node{
		{ID: "a", AgentID: "agt_missing"},
		{ID: "b", Type: domain.NodeTransform, AgentID: "agt_writer"},
		{ID: "c", AgentID: "agt_gone"},
	}}
	_, err := Resolve(def, lookupIn(library()))
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != domain.ECodeInvalid {
		t.Fatalf("err = %v, want a domain invalid error", err)
	}
	for _, w := range []wantProblem{
		{"/agents/0/agent_id", `unknown library agent "agt_missing"`},
		{"/agents/1/type", "has type llm, not transform"},
		{"/agents/2/agent_id", `unknown library agent "agt_gone"`},
	} {
		if !hasProblem(de.Fields, w) {
			t.Errorf("missing %+v in %+v", w, de.Fields)
		}
	}

	boom := errors.New("database down")
	_, err = Resolve(def, func(string) (*domain.Node, error) { return nil, boom })
	if !errors.Is(err, boom) || domain.IsCode(err, domain.ECodeInvalid) {
		t.Fatalf("lookup failure: err = %v, want it wrapped", err)
	}
}
