package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/superagent-hq/superagent/internal/agent"
	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/engine"
	"github.com/superagent-hq/superagent/internal/workflow"
)

// The demo organization of the product description ("Acme Corporation").
const (
	demoOrgName = "Acme Corporation"
	demoOrgSlug = "acme"
	// demoMarker in the organization's settings says seed --demo made it,
	// so the command never adopts a real organization that took the slug.
	demoMarker = "demo"
	// demoUserAgent marks what the seed does in audit rows it does not
	// write itself (the engine's execution.started).
	demoUserAgent = "superagent seed --demo (operator command)"
	// demoWait bounds the wait for each example execution.
	demoWait = 60 * time.Second
)

var demoTeams = []string{"Sales", "Engineering", "Operations"}

// demoUser is one of the product description's demo users. The passwords
// are fixed, published demo data: they are set directly, not through the
// password policy, which guards the passwords people choose.
type demoUser struct {
	email, username, fullName, password string
	role                                domain.Role
	team                                string // "" for the whole organization
	label                               string
}

var demoUsers = []demoUser{
	{"admin@acme.com", "acme-admin", "Alex Admin", "admin123", domain.RoleAdmin, "", "Admin"},
	{"dev@acme.com", "acme-dev", "Dana Developer", "dev123", domain.RoleDeveloper, "Engineering", "Developer"},
	{"ops@acme.com", "acme-ops", "Oscar Operator", "ops123", domain.RoleOperator, "Operations", "Operator"},
	{"sales@acme.com", "acme-sales", "Sasha Sales", "sales123", domain.RoleDeveloper, "Sales", "Sales Developer"},
}

// demoWorkflow is an example workflow and the input of its example run.
// Both run offline: transform and router nodes, and llm nodes on the
// built-in mock provider with scripted answers.
type demoWorkflow struct {
	name, description, category string
	tags                        []string
	def                         domain.Definition
	input                       string
}

func demoWorkflows() []demoWorkflow {
	return []demoWorkflow{{
		name:        "Customer support triage",
		description: "Classifies a support message, routes it to the billing or technical agent (or a general answer) and assembles the reply.",
		category:    "support",
		tags:        []string{"demo", "router"},
		def: domain.Definition{
			Nodes: []domain.Node{
				{ID: "classify", Type: domain.NodeTransform, Name: "Classify the message",
					Description: "Keyword rules choose a category and a priority.",
					Transform: &domain.TransformConfig{Expression: `{` +
						`"category": input.message matches "(?i)refund|invoice|charge|billing|payment" ? "billing" : ` +
						`(input.message matches "(?i)error|crash|bug|broken|fail" ? "technical" : "general"), ` +
						`"priority": input.message matches "(?i)urgent|asap|outage|down" ? "high" : "normal"}`}},
				{ID: "route", Type: domain.NodeRouter, Name: "Route by category", Router: &domain.RouterConfig{
					Routes: []domain.RouterRoute{
						{Condition: `nodes.classify.category == "billing"`, To: "billing_agent"},
						{Condition: `nodes.classify.category == "technical"`, To: "technical_agent"},
					},
					Default: "general_answer"}},
				{ID: "billing_agent", Type: domain.NodeLLM, Name: "Billing agent", LLM: &domain.LLMConfig{Model: "mock:echo",
					SystemPrompt: "You are Acme's billing support agent. Answer briefly and kindly.",
					Prompt:       "{{.input.customer}} wrote: {{.input.message}}\nDraft a reply.",
					Mock: &domain.MockOptions{Response: "(mock model) Thanks for telling us about the charge. I have opened a billing case " +
						"and our finance team will confirm the correction within one business day.", LatencyMS: 40}}},
				{ID: "technical_agent", Type: domain.NodeLLM, Name: "Technical agent", LLM: &domain.LLMConfig{Model: "mock:echo",
					SystemPrompt: "You are Acme's technical support engineer. Ask for what you need to reproduce the problem.",
					Prompt:       "{{.input.customer}} wrote: {{.input.message}}\nDraft a reply.",
					Mock: &domain.MockOptions{Response: "(mock model) Sorry about the trouble. Could you send the time it happened and " +
						"the error message you saw? An engineer is looking at it now.", LatencyMS: 40}}},
				{ID: "general_answer", Type: domain.NodeTransform, Name: "General answer", Transform: &domain.TransformConfig{
					Template: "Hi {{.input.customer}}, thanks for contacting Acme. A member of our team will get back to you within one business day."}},
				{ID: "reply", Type: domain.NodeTransform, Name: "Assemble the reply", Transform: &domain.TransformConfig{
					Expression: `{"category": nodes.classify.category, "priority": nodes.classify.priority, ` +
						`"reply": nodes.billing_agent ?? nodes.technical_agent ?? nodes.general_answer}`}},
			},
			Edges: []domain.Edge{
				{From: "classify", To: "route"},
				{From: "route", To: "billing_agent"},
				{From: "route", To: "technical_agent"},
				{From: "route", To: "general_answer"},
				{From: "billing_agent", To: "reply"},
				{From: "technical_agent", To: "reply"},
				{From: "general_answer", To: "reply"},
			},
			InputSchema: json.RawMessage(`{"type":"object","properties":{` +
				`"customer":{"type":"string","minLength":1,"maxLength":200},` +
				`"message":{"type":"string","minLength":1,"maxLength":5000}},"required":["customer","message"]}`),
		},
		input: `{"customer": "Globex", "message": "We were charged twice on our last invoice, please refund the duplicate."}`,
	}, {
		name:        "Research summary",
		description: "Plans questions about a topic, drafts research notes and condenses them into an executive summary.",
		category:    "research",
		tags:        []string{"demo", "chain"},
		def: domain.Definition{
			Nodes: []domain.Node{
				{ID: "plan", Type: domain.NodeTransform, Name: "Plan the questions", Transform: &domain.TransformConfig{
					Expression: `{"topic": input.topic, "questions": ["What is " + input.topic + "?", ` +
						`"Why does it matter to Acme?", "What should Acme do next?"]}`}},
				{ID: "research", Type: domain.NodeLLM, Name: "Research notes", LLM: &domain.LLMConfig{Model: "mock:echo",
					SystemPrompt: "You are a careful research analyst.",
					Prompt:       "Research {{.nodes.plan.topic}} and answer:\n{{range .nodes.plan.questions}}- {{.}}\n{{end}}",
					Mock: &domain.MockOptions{Response: "(mock model) 1. It is a practice many of Acme's peers adopted in the last two years. " +
						"2. It cuts the time customers wait and the cost of each answer. 3. Pilot it with one team for a quarter and " +
						"measure the response times before deciding.", LatencyMS: 60, StreamChunkChars: 24}}},
				{ID: "summarize", Type: domain.NodeLLM, Name: "Executive summary", LLM: &domain.LLMConfig{Model: "mock:echo",
					Prompt: "Summarize for an executive in two sentences:\n{{.nodes.research}}",
					Mock: &domain.MockOptions{Response: "(mock model) Peers already use it to answer faster and cheaper. " +
						"Acme should run a one-quarter pilot with one team and decide on the measured results.", LatencyMS: 40}}},
			},
			Edges: []domain.Edge{{From: "plan", To: "research"}, {From: "research", To: "summarize"}},
			OutputTemplate: `{"topic": {{json .input.topic}}, "summary": {{json .nodes.summarize}}, ` +
				`"questions": {{json .nodes.plan.questions}}, "notes": {{json .nodes.research}}}`,
			InputSchema: json.RawMessage(`{"type":"object","properties":{"topic":{"type":"string","minLength":1,"maxLength":200}},"required":["topic"]}`),
		},
		input: `{"topic": "AI-assisted customer support"}`,
	}}
}

func seedCommand(load loader, stdout, stderr io.Writer) *cobra.Command {
	var demo bool
	cmd := &cobra.Command{
		Use:   "seed --demo",
		Short: "Load the demo organization Acme Corporation: teams, users, example workflows and executions (development only)",
		Long: "Creates the demo organization \"Acme Corporation\" (slug acme, enterprise plan) with the teams Sales, Engineering and\n" +
			"Operations, four users with fixed, published passwords, two example workflows published to dev that run offline\n" +
			"(transform and router nodes and the built-in mock model), and one example execution of each, run by the real engine.\n" +
			"Running it again creates only what is missing. Refused when ENVIRONMENT=production.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !demo {
				return errors.New("nothing to seed: `superagent seed --demo` loads the demo organization")
			}
			cfg, err := load()
			if err != nil {
				return err
			}
			if cfg.IsProduction() {
				return errors.New("seed --demo is refused when ENVIRONMENT=production: it creates users whose passwords are published")
			}
			if !cfg.EnableMultiTenancy {
				return errors.New("seed --demo needs ENABLE_MULTI_TENANCY=true: the demo is an organization of its own")
			}
			quiet := *cfg
			if !quiet.Debug {
				// The seed's own lines tell what happens, and its errors are
				// returned; the bus's warnings while it stops are noise here.
				quiet.LogLevel = "error"
			}
			app, err := openApp(cmd.Context(), &quiet, stderr, role{workers: true})
			if err != nil {
				return err
			}
			defer app.Close()
			return seedDemo(cmd.Context(), app, stdout)
		},
	}
	cmd.Flags().BoolVar(&demo, "demo", false, "load the demo organization Acme Corporation")
	return cmd
}

// seeder creates the demo data piece by piece, each piece only when
// missing, and says which it created and which were already there.
type seeder struct {
	ctx     context.Context
	a       *App
	out     io.Writer
	created int
	existed int
	org     *domain.Organization
	teams   map[string]string // name → id
	admin   *domain.User
}

func (s *seeder) say(created bool, what string, args ...any) {
	verb := "exists "
	if created {
		verb = "created"
		s.created++
	} else {
		s.existed++
	}
	fmt.Fprintf(s.out, "  %s  %s\n", verb, fmt.Sprintf(what, args...))
}

// seedAudit is the audit row of something the seed created.
func seedAudit(action, resourceType, resourceID string, details map[string]any) domain.AuditEvent {
	details["by"] = "operator command"
	details["command"] = "seed --demo"
	return domain.AuditEvent{Action: action, ResourceType: resourceType, ResourceID: resourceID, Success: true,
		UserAgent: demoUserAgent, Details: details}
}

func seedDemo(ctx context.Context, a *App, out io.Writer) error {
	s := &seeder{ctx: ctx, a: a, out: out, teams: map[string]string{}}
	fmt.Fprintf(out, "Seeding the demo organization into %s\n\n", a.db.Redacted())
	steps := []func() error{s.organization, s.ensureTeams, s.users, s.workflowsAndRuns}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	fmt.Fprintln(out, "\nDemo user credentials:")
	for _, u := range demoUsers {
		fmt.Fprintf(out, "  - %s / %s (%s)\n", u.email, u.password, u.label)
	}
	fmt.Fprintln(out, "\nThese passwords are fixed, published demo data, set directly: the password policy guards the")
	fmt.Fprintln(out, "passwords people choose, not this seed. Use them only on a development installation.")
	fmt.Fprintf(out, "\nDemo data ready: %d created, %d already there.\n", s.created, s.existed)
	return nil
}

// organization finds or creates Acme Corporation.
func (s *seeder) organization() error {
	err := s.a.store.Read(s.ctx, domain.SystemScope(domain.SystemOperator), func(q domain.Queries) error {
		var err error
		s.org, err = q.GetOrganizationBySlug(demoOrgSlug)
		return err
	})
	switch {
	case err == nil:
		if marked, _ := s.org.Settings[demoMarker].(bool); !marked {
			return fmt.Errorf("an organization with the slug %q exists and was not made by seed --demo; the seed leaves it alone", demoOrgSlug)
		}
		s.say(false, "organization %s (%s, slug %s, %s plan)", s.org.Name, s.org.ID, s.org.Slug, s.org.Plan)
		return nil
	case !domain.IsCode(err, domain.ECodeNotFound):
		return err
	}
	// The product description's enterprise limits: 100 workflows, 200
	// agents, 10,000 executions a month; the rest are the plan's defaults.
	limits, _ := domain.DefaultPlanLimits(domain.PlanEnterprise)
	limits.MaxWorkflows, limits.MaxAgents, limits.MaxExecutionsPerMonth = 100, 200, 10000
	org := &domain.Organization{ID: domain.NewID(domain.PrefixOrg), Name: demoOrgName, Slug: demoOrgSlug, Plan: domain.PlanEnterprise,
		Limits: limits, IsActive: true, Settings: map[string]any{demoMarker: true}}
	err = s.a.store.Write(s.ctx, domain.OrgScope(org.ID), func(tx domain.Tx) error {
		if err := tx.CreateOrganization(org); err != nil {
			return err
		}
		tx.Audit(seedAudit("organization.created", "organization", org.ID, map[string]any{"name": org.Name, "plan": string(org.Plan)}))
		return nil
	})
	if domain.IsCode(err, domain.ECodeConflict) {
		return fmt.Errorf("the slug %q was taken while seeding; run the seed again: %w", demoOrgSlug, err)
	}
	if err != nil {
		return err
	}
	s.org = org
	s.say(true, "organization %s (%s, slug %s, %s plan: %d workflows, %d agents, %d executions a month)",
		org.Name, org.ID, org.Slug, org.Plan, limits.MaxWorkflows, limits.MaxAgents, limits.MaxExecutionsPerMonth)
	return nil
}

// ensureTeams finds or creates Sales, Engineering and Operations.
func (s *seeder) ensureTeams() error {
	scope := domain.OrgScope(s.org.ID)
	err := s.a.store.Read(s.ctx, scope, func(q domain.Queries) error {
		page := domain.Page{Limit: domain.MaxPageSize}
		for {
			teams, next, err := q.ListTeams(page)
			if err != nil {
				return err
			}
			for _, t := range teams {
				s.teams[t.Name] = t.ID
			}
			if next == "" {
				return nil
			}
			page.Cursor = next
		}
	})
	if err != nil {
		return err
	}
	for _, name := range demoTeams {
		if _, ok := s.teams[name]; ok {
			s.say(false, "team %s", name)
			continue
		}
		t := &domain.Team{ID: domain.NewID(domain.PrefixTeam), Name: name, Description: "Acme's " + strings.ToLower(name) + " team"}
		err := s.a.store.Write(s.ctx, scope, func(tx domain.Tx) error {
			if err := tx.CreateTeam(t); err != nil {
				return err
			}
			tx.Audit(seedAudit("team.created", "team", t.ID, map[string]any{"name": t.Name}))
			return nil
		})
		if err != nil {
			return fmt.Errorf("team %s: %w", name, err)
		}
		s.teams[name] = t.ID
		s.say(true, "team %s", name)
	}
	return nil
}

// users finds or creates the four demo users, active and verified.
func (s *seeder) users() error {
	h, err := hasher(s.a.cfg)
	if err != nil {
		return err
	}
	for _, du := range demoUsers {
		var u *domain.User
		err := s.a.store.Read(s.ctx, domain.SystemScope(domain.SystemOperator), func(q domain.Queries) error {
			var err error
			u, err = q.FindUserByLogin(du.email)
			return err
		})
		if err == nil {
			if u.OrgID != s.org.ID {
				return fmt.Errorf("%s already belongs to another organization; the seed leaves it alone", du.email)
			}
			s.say(false, "user %s (%s)", du.email, u.Role)
			if du.role == domain.RoleAdmin {
				s.admin = u
			}
			continue
		}
		if !domain.IsCode(err, domain.ECodeNotFound) {
			return err
		}
		// Hash outside the transaction: hashing is slow on purpose.
		hash, err := h.Hash(s.ctx, du.password)
		if err != nil {
			return err
		}
		u = &domain.User{ID: domain.NewID(domain.PrefixUser), Email: du.email, Username: du.username, FullName: du.fullName,
			PasswordHash: hash, Role: du.role, IsActive: true, TeamID: s.teams[du.team]}
		err = s.a.store.Write(s.ctx, domain.OrgScope(s.org.ID), func(tx domain.Tx) error {
			now := tx.Now()
			u.EmailVerifiedAt = &now
			if err := tx.CreateUser(u); err != nil {
				return err
			}
			tx.Audit(seedAudit("user.created", "user", u.ID, map[string]any{"email": u.Email, "role": string(u.Role), "team_id": u.TeamID}))
			return nil
		})
		if err != nil {
			return fmt.Errorf("user %s: %w", du.email, err)
		}
		team := "whole organization"
		if du.team != "" {
			team = du.team + " team"
		}
		s.say(true, "user %s (%s, %s)", du.email, du.role, team)
		if du.role == domain.RoleAdmin {
			s.admin = u
		}
	}
	return nil
}

// workflowsAndRuns finds or creates the example workflows, published to
// dev, and runs each once through the engine unless it has run before.
func (s *seeder) workflowsAndRuns() error {
	type pending struct {
		wf *domain.Workflow
		dw demoWorkflow
	}
	var runs []pending
	for _, dw := range demoWorkflows() {
		wf, err := s.workflow(dw)
		if err != nil {
			return fmt.Errorf("workflow %s: %w", dw.name, err)
		}
		var ran []domain.Execution
		err = s.a.store.Read(s.ctx, domain.OrgScope(s.org.ID), func(q domain.Queries) error {
			var err error
			ran, _, err = q.ListExecutions(domain.ExecutionFilter{WorkflowID: wf.ID, Page: domain.Page{Limit: 1}})
			return err
		})
		if err != nil {
			return err
		}
		if len(ran) > 0 {
			s.say(false, "execution %s of %s (%s)", ran[0].ID, wf.Name, ran[0].Status)
			continue
		}
		runs = append(runs, pending{wf, dw})
	}
	if len(runs) == 0 {
		return nil
	}
	stop, err := s.a.startWork(s.ctx)
	if err != nil {
		return err
	}
	defer stop()
	p := &domain.Principal{UserID: s.admin.ID, OrgID: s.org.ID, TeamID: s.admin.TeamID, Role: domain.RoleAdmin,
		Permissions: domain.NewPermissionSet(domain.RoleAdmin, nil), Email: s.admin.Email}
	for _, r := range runs {
		exe, _, err := s.a.engine.Execute(s.ctx, p, engine.ExecuteRequest{WorkflowID: r.wf.ID, Input: json.RawMessage(r.dw.input),
			Environment: domain.EnvDev, Meta: engine.RequestMeta{UserAgent: demoUserAgent}})
		if err != nil {
			return fmt.Errorf("run %s: %w", r.wf.Name, err)
		}
		exe, err = s.a.engine.Wait(s.ctx, p.Scope(), exe.ID, demoWait)
		if err != nil {
			return fmt.Errorf("run %s: %w", r.wf.Name, err)
		}
		if !exe.Final() {
			return fmt.Errorf("execution %s of %s is still %s after %s; is the queue working?", exe.ID, r.wf.Name, exe.Status, demoWait)
		}
		took := ""
		if exe.DurationMS != nil {
			took = fmt.Sprintf(" in %d ms", *exe.DurationMS)
		}
		s.say(true, "execution %s of %s: %s%s", exe.ID, r.wf.Name, exe.Status, took)
		if exe.Status != domain.ExecutionSucceeded {
			return fmt.Errorf("the example execution %s of %s ended %s: %s", exe.ID, r.wf.Name, exe.Status, exe.Error)
		}
	}
	return nil
}

// workflow finds a demo workflow by name or creates it, validated like the
// API validates, and makes sure a version is published to dev.
func (s *seeder) workflow(dw demoWorkflow) (*domain.Workflow, error) {
	scope := domain.OrgScope(s.org.ID)
	var found *domain.Workflow
	err := s.a.store.Read(s.ctx, scope, func(q domain.Queries) error {
		list, _, err := q.ListWorkflows(domain.WorkflowFilter{Search: dw.name, Page: domain.Page{Limit: domain.MaxPageSize}})
		if err != nil {
			return err
		}
		for i := range list {
			if list[i].Name == dw.name {
				found, err = q.GetWorkflow(list[i].ID)
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if found != nil {
		if found.Pins[domain.EnvDev] > 0 {
			s.say(false, "workflow %s (%s, version %d published to dev)", found.Name, found.ID, found.Pins[domain.EnvDev])
			return found, nil
		}
		err := s.a.store.Write(s.ctx, scope, func(tx domain.Tx) error {
			if _, err := tx.PinWorkflowVersion(found.ID, domain.EnvDev, found.Version); err != nil {
				return err
			}
			tx.Audit(seedAudit("workflow.published", "workflow", found.ID, map[string]any{"environment": string(domain.EnvDev), "version": found.Version}))
			return nil
		})
		if err != nil {
			return nil, err
		}
		s.say(false, "workflow %s (%s)", found.Name, found.ID)
		s.say(true, "publication of %s version %d to dev", found.Name, found.Version)
		return found, nil
	}

	horizon := agent.MaxStepTimeout(s.a.cfg.RescueAfter)
	limits := workflow.NewLimits(s.a.cfg.MaxAgentsPerWorkflow, string(s.org.Plan), s.org.Limits.MaxAgentsPerWorkflow, horizon)
	def := dw.def
	def.Nodes = slices.Clone(def.Nodes)
	resolved, err := workflow.Resolve(&def, func(id string) (*domain.Node, error) { return nil, domain.NotFound("agent") })
	if err != nil {
		return nil, err
	}
	if problems := workflow.Validate(resolved, limits); len(problems) > 0 {
		return nil, fmt.Errorf("the demo definition is invalid (a bug): %+v", problems)
	}
	w := &domain.Workflow{ID: domain.NewID(domain.PrefixWorkflow), CreatedBy: s.admin.ID, Name: dw.name, Description: dw.description,
		Definition: def, Tags: dw.tags, Category: dw.category, Status: domain.WorkflowActive}
	v := &domain.WorkflowVersion{Name: w.Name, Description: w.Description, Definition: def, Resolved: *resolved,
		AuthorID: s.admin.ID, Message: "Demo workflow (seed --demo)"}
	err = s.a.store.Write(s.ctx, scope, func(tx domain.Tx) error {
		if err := tx.CreateWorkflow(w, v, s.org.Limits.MaxWorkflows); err != nil {
			return err
		}
		if _, err := tx.PinWorkflowVersion(w.ID, domain.EnvDev, w.Version); err != nil {
			return err
		}
		tx.Audit(seedAudit("workflow.created", "workflow", w.ID, map[string]any{"name": w.Name, "version": w.Version, "team_id": w.TeamID}))
		tx.Audit(seedAudit("workflow.published", "workflow", w.ID, map[string]any{"environment": string(domain.EnvDev), "version": w.Version}))
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.say(true, "workflow %s (%s, version %d published to dev)", w.Name, w.ID, w.Version)
	return w, nil
}

// startWork runs the queue's workers and the engine's signal bus as serve
// does, until the returned stop is called: it lets running jobs finish for
// up to SHUTDOWN_TIMEOUT, then stops the bus and waits for it.
func (a *App) startWork(ctx context.Context) (stop func(), err error) {
	busCtx, stopBus := context.WithCancel(context.WithoutCancel(ctx))
	busDone := make(chan struct{})
	go func() {
		defer close(busDone)
		a.bus.Run(busCtx, a.queue.Client.ID())
	}()
	if err := a.queue.Start(ctx); err != nil {
		stopBus()
		<-busDone
		return nil, err
	}
	return func() {
		a.stopQueue()
		stopBus()
		<-busDone
	}, nil
}
