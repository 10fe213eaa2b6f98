package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/superagent-hq/superagent/internal/audit"
	"github.com/superagent-hq/superagent/internal/domain"
)

func auditCommand(load loader, stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Audit log tasks"}
	var org string
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Verify the audit hash chains (all, or one organization's) and report the first broken link",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load()
			if err != nil {
				return err
			}
			s, err := openStore(cmd, cfg)
			if err != nil {
				return err
			}
			defer s.Close()
			ctx := cmd.Context()
			scope := domain.SystemScope(domain.SystemAuditCheck)
			orgs := []string{org}
			if !cmd.Flags().Changed("org") {
				if err := s.Read(ctx, scope, func(q domain.Queries) error {
					orgs, err = q.AuditChainOrgs()
					return err
				}); err != nil {
					return err
				}
			}
			broken := 0
			for _, id := range orgs {
				rep, err := audit.VerifyChain(ctx, s, scope, id)
				if err != nil {
					return err
				}
				name := id
				if name == domain.InstallationOrgID {
					name = "(installation)"
				}
				if rep.OK() {
					fmt.Fprintf(stdout, "ok      %s: %d rows verified (from seq %d to %d)\n", name, rep.Checked, rep.CheckpointSeq+1, rep.HeadSeq)
					continue
				}
				broken++
				fmt.Fprintf(stdout, "BROKEN  %s: first broken link at seq %d (row %s): %s\n", name, rep.Break.Seq, rep.Break.ID, rep.Break.Reason)
			}
			if broken > 0 {
				return fmt.Errorf("%d of %d audit chains failed verification", broken, len(orgs))
			}
			return nil
		},
	}
	verify.Flags().StringVar(&org, "org", "", "verify only this organization's chain (\"\" is the installation chain)")
	cmd.AddCommand(verify)
	return cmd
}
