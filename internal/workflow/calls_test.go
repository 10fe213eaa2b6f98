package workflow

import (
	"fmt"
	"testing"

	"github.com/superagent-hq/superagent/internal/domain"
)

func callingDef(tools ...string) *domain.Definition {
	return &domain.Definition{Nodes: []domain.Node{{ID: "a", Type: domain.NodeLLM, LLM: &domain.LLMConfig{Model: "mock:echo", Prompt: "p", Tools: tools}}}}
}

// TestCheckWorkflowTools: the team rule, one message for every workflow
// that may not be called, and the bound on different called workflows.
func TestCheckWorkflowTools(t *testing.T) {
	t.Parallel()
	ids := make([]string, 5)
	for i := range ids {
		ids[i] = domain.NewID(domain.PrefixWorkflow)
	}
	called := map[string]*CalledWorkflow{ids[0]: {TeamID: "team_a"}, ids[1]: {}, ids[2]: {TeamID: "team_b"}, ids[3]: {TeamID: "team_a", Archived: true}, ids[4]: nil}
	tools := []string{"json_extract", "workflow:not-an-id"}
	for _, id := range ids {
		tools = append(tools, "workflow:"+id)
	}
	got := map[string]string{}
	for _, p := range CheckWorkflowTools(callingDef(tools...), "team_a", called) {
		got[p.Pointer] = p.Message
	}
	msg := func(id string) string {
		return fmt.Sprintf("workflow %q does not exist, or this workflow may not call it: it must belong to this workflow's team or to the whole organization", id)
	}
	want := map[string]string{"/agents/0/llm/tools/4": msg(ids[2]), "/agents/0/llm/tools/5": msg(ids[3]), "/agents/0/llm/tools/6": msg(ids[4])}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("team_a: got %v\nwant %v", got, want)
	}
	// An organization-wide workflow calls organization-wide ones only.
	got = map[string]string{}
	for _, p := range CheckWorkflowTools(callingDef(tools[2:4]...), "", called) {
		got[p.Pointer] = p.Message
	}
	if len(got) != 1 || got["/agents/0/llm/tools/0"] != msg(ids[0]) {
		t.Errorf("organization-wide: %v", got)
	}

	// Beyond MaxCalledWorkflows different workflows (or one not looked up).
	var many []string
	all := map[string]*CalledWorkflow{}
	for i := range MaxCalledWorkflows + 1 {
		id := domain.NewID(domain.PrefixWorkflow)
		many = append(many, "workflow:"+id)
		if i < MaxCalledWorkflows {
			all[id] = &CalledWorkflow{}
		}
	}
	def := &domain.Definition{Nodes: []domain.Node{
		{ID: "a", Type: domain.NodeLLM, LLM: &domain.LLMConfig{Tools: many[:MaxTools]}},
		{ID: "b", Type: domain.NodeLLM, LLM: &domain.LLMConfig{Tools: many[MaxTools:]}},
	}}
	if n := len(CalledWorkflowIDs(def)); n != MaxCalledWorkflows+1 {
		t.Errorf("CalledWorkflowIDs: %d", n)
	}
	problems := CheckWorkflowTools(def, "", all)
	last := fmt.Sprintf("/agents/1/llm/tools/%d", MaxCalledWorkflows-MaxTools)
	if len(problems) != 1 || problems[0].Pointer != last {
		t.Errorf("beyond the bound: %+v, want one problem at %s", problems, last)
	}
}
