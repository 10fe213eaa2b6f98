package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/superagent-hq/superagent/internal/auth"
	"github.com/superagent-hq/superagent/internal/config"
	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/maintenance"
	"github.com/superagent-hq/superagent/internal/queue"
	"github.com/superagent-hq/superagent/internal/store/sqlstore"
)

// operatorAudit is the audit row of an operator command.
func operatorAudit(orgID, action string, details map[string]any) domain.AuditEvent {
	if details == nil {
		details = map[string]any{}
	}
	details["by"] = "operator command"
	return domain.AuditEvent{OrgID: orgID, Action: action, ResourceType: "organization", ResourceID: orgID, Success: true, Details: details}
}

// findOrg resolves an organization by id or slug in the system scope.
func findOrg(ctx context.Context, q domain.Queries, ref string) (*domain.Organization, error) {
	o, err := q.GetOrganization(ref)
	if domain.IsCode(err, domain.ECodeNotFound) {
		o, err = q.GetOrganizationBySlug(ref)
	}
	if err != nil {
		return nil, fmt.Errorf("organization %q: %w", ref, err)
	}
	return o, nil
}

func orgCommand(load loader, stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "org", Short: "Manage organizations (operator tasks)"}
	withStore := func(run func(cmd *cobra.Command, cfg *config.Config, s *sqlstore.Store, args []string) error) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			s, err := openStore(cmd, cfg)
			if err != nil {
				return err
			}
			defer s.Close()
			return run(cmd, cfg, s, args)
		}
	}

	cmd.AddCommand(&cobra.Command{
		Use: "list", Short: "List organizations", Args: cobra.NoArgs,
		RunE: withStore(func(cmd *cobra.Command, _ *config.Config, s *sqlstore.Store, _ []string) error {
			return s.Read(cmd.Context(), domain.SystemScope(domain.SystemOperator), func(q domain.Queries) error {
				orgs, err := q.ListOrganizations()
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "ID\tSLUG\tNAME\tPLAN\tACTIVE")
				for _, o := range orgs {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%v\n", o.ID, o.Slug, o.Name, o.Plan, o.IsActive)
				}
				return w.Flush()
			})
		}),
	})

	var createPlan string
	createOrg := withStore(func(cmd *cobra.Command, _ *config.Config, s *sqlstore.Store, args []string) error {
		if _, ok := domain.DefaultPlanLimits(domain.Plan(createPlan)); !ok {
			return fmt.Errorf("--plan must be free, pro or enterprise")
		}
		org, team := auth.NewOrganization(args[0], domain.Plan(createPlan))
		err := s.Write(cmd.Context(), domain.OrgScope(org.ID), func(tx domain.Tx) error {
			if err := tx.CreateOrganization(org); err != nil {
				return err
			}
			if err := tx.CreateTeam(team); err != nil {
				return err
			}
			tx.Audit(operatorAudit(org.ID, "organization.created", map[string]any{"name": org.Name, "plan": string(org.Plan)}))
			return nil
		})
		if err == nil {
			fmt.Fprintf(stdout, "created organization %s (slug %s) on the %s plan\n", org.ID, org.Slug, org.Plan)
		}
		return err
	})
	create := &cobra.Command{
		Use: "create NAME", Short: "Create an organization with its default team", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			if !cfg.EnableMultiTenancy {
				return fmt.Errorf("creating organizations is off: ENABLE_MULTI_TENANCY=false runs one organization, created at first start")
			}
			return createOrg(cmd, args)
		},
	}
	create.Flags().StringVar(&createPlan, "plan", "free", "free, pro or enterprise")
	cmd.AddCommand(create)

	var plan string
	var limits domain.PlanLimits
	setPlan := &cobra.Command{
		Use:   "set-plan ORG",
		Short: "Set an organization's plan, and optionally override individual limits",
		Args:  cobra.ExactArgs(1),
		RunE: withStore(func(cmd *cobra.Command, _ *config.Config, s *sqlstore.Store, args []string) error {
			return s.Write(cmd.Context(), domain.SystemScope(domain.SystemOperator), func(tx domain.Tx) error {
				o, err := findOrg(cmd.Context(), tx, args[0])
				if err != nil {
					return err
				}
				if plan != "" {
					defaults, ok := domain.DefaultPlanLimits(domain.Plan(plan))
					if !ok {
						return fmt.Errorf("--plan must be free, pro or enterprise")
					}
					o.Plan, o.Limits = domain.Plan(plan), defaults
				}
				override := func(flag string, dst *int, v int) {
					if cmd.Flags().Changed(flag) {
						*dst = v
					}
				}
				override("max-workflows", &o.Limits.MaxWorkflows, limits.MaxWorkflows)
				override("max-agents", &o.Limits.MaxAgents, limits.MaxAgents)
				override("max-teams", &o.Limits.MaxTeams, limits.MaxTeams)
				override("max-executions-per-month", &o.Limits.MaxExecutionsPerMonth, limits.MaxExecutionsPerMonth)
				override("max-concurrent-executions", &o.Limits.MaxConcurrentExecutions, limits.MaxConcurrentExecutions)
				override("max-agents-per-workflow", &o.Limits.MaxAgentsPerWorkflow, limits.MaxAgentsPerWorkflow)
				if err := tx.UpdateOrganization(o); err != nil {
					return err
				}
				tx.Audit(operatorAudit(o.ID, "organization.plan_changed", map[string]any{"plan": string(o.Plan), "limits": o.Limits}))
				fmt.Fprintf(stdout, "%s is on the %s plan: %+v\n", o.ID, o.Plan, o.Limits)
				return nil
			})
		}),
	}
	setPlan.Flags().StringVar(&plan, "plan", "", "free, pro or enterprise (resets the limits to the plan's defaults)")
	setPlan.Flags().IntVar(&limits.MaxWorkflows, "max-workflows", 0, "override: workflows")
	setPlan.Flags().IntVar(&limits.MaxAgents, "max-agents", 0, "override: library agents")
	setPlan.Flags().IntVar(&limits.MaxTeams, "max-teams", 0, "override: teams")
	setPlan.Flags().IntVar(&limits.MaxExecutionsPerMonth, "max-executions-per-month", 0, "override: executions per month")
	setPlan.Flags().IntVar(&limits.MaxConcurrentExecutions, "max-concurrent-executions", 0, "override: concurrent executions")
	setPlan.Flags().IntVar(&limits.MaxAgentsPerWorkflow, "max-agents-per-workflow", 0, "override: agents per workflow")
	cmd.AddCommand(setPlan)

	cmd.AddCommand(&cobra.Command{
		Use:   "delete ORG",
		Short: "Deactivate an organization at once and purge its data in the background (audit rows stay)",
		Args:  cobra.ExactArgs(1),
		RunE: withStore(func(cmd *cobra.Command, cfg *config.Config, s *sqlstore.Store, args []string) error {
			ctx := cmd.Context()
			q, err := queue.New(ctx, queue.Options{Kind: s.Kind(), DB: s.DB(), InsertOnly: true})
			if err != nil {
				return err
			}
			defer q.Close()
			return s.Write(ctx, domain.SystemScope(domain.SystemOperator), func(tx domain.Tx) error {
				o, err := findOrg(ctx, tx, args[0])
				if err != nil {
					return err
				}
				now := tx.Now()
				o.IsActive, o.DeletedAt = false, &now
				if err := tx.UpdateOrganization(o); err != nil {
					return err
				}
				if _, err := q.Client.InsertTx(ctx, tx.SQL(), maintenance.PurgeOrgArgs{OrgID: o.ID}, nil); err != nil {
					return err
				}
				tx.Audit(operatorAudit(o.ID, "organization.deleted", map[string]any{"name": o.Name}))
				fmt.Fprintf(stdout, "organization %s deactivated; its data will be purged by the next running process\n", o.ID)
				return nil
			})
		}),
	})
	return cmd
}
