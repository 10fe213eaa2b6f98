package audit

import (
	"context"

	"github.com/superagent-hq/superagent/internal/domain"
)

// Report is the outcome of verifying one chain.
type Report struct {
	OrgID string `json:"org_id"`
	// Checked is how many rows were verified (after the retention checkpoint).
	Checked int64 `json:"checked"`
	// CheckpointSeq is where verification started (0 when nothing was pruned).
	CheckpointSeq int64 `json:"checkpoint_seq"`
	// HeadSeq is the chain head's recorded sequence number.
	HeadSeq int64 `json:"head_seq"`
	// Break is the first broken link, nil when the chain is intact.
	Break *Break `json:"break,omitempty"`
}

// OK reports whether the chain verified.
func (r *Report) OK() bool { return r.Break == nil }

// VerifyChain walks one organization's chain page by page from its
// retention checkpoint to its head. scope must be the organization's own
// scope or the audit-verification system scope.
func VerifyChain(ctx context.Context, s domain.Store, scope domain.Scope, orgID string) (*Report, error) {
	rep := &Report{OrgID: orgID}
	err := s.Read(ctx, scope, func(q domain.Queries) error {
		seq, hash, err := q.AuditCheckpoint(orgID)
		if err != nil {
			return err
		}
		rep.CheckpointSeq = seq
		// The head is read first: rows appended while we verify lie beyond
		// it and are left for the next run.
		headSeq, headHash, err := q.AuditHead(orgID)
		if err != nil {
			return err
		}
		rep.HeadSeq = headSeq
		v := NewVerifier(orgID, seq, hash)
		after := seq
		for after < headSeq {
			if err := ctx.Err(); err != nil {
				return err
			}
			rows, err := q.AuditChain(orgID, after, 1000)
			if err != nil {
				return err
			}
			for len(rows) > 0 && rows[len(rows)-1].Seq > headSeq {
				rows = rows[:len(rows)-1]
			}
			if len(rows) == 0 {
				break
			}
			if rep.Break = v.Next(rows); rep.Break != nil {
				rep.Checked = v.Checked
				return nil
			}
			after = rows[len(rows)-1].Seq
		}
		rep.Break = v.Finish(headSeq, headHash)
		rep.Checked = v.Checked
		return nil
	})
	return rep, err
}
