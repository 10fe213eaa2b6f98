package sqlstore_test

import (
	"context"
	"testing"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/store/dbtest"
	"github.com/superagent-hq/superagent/internal/store/storetest"
)

// BenchmarkAuditChainHead measures what the hash chain's head lock costs
// when many transactions append to one organization's chain at once (a
// login storm): every append takes the head row lock as its last step
// before commit, so appends to one chain serialise. Compare with
// "no_audit", the same transaction without an audit row.
func BenchmarkAuditChainHead(b *testing.B) {
	for _, kind := range dbtest.Kinds(b) {
		for _, withAudit := range []bool{true, false} {
			name := kind + "/audit"
			if !withAudit {
				name = kind + "/no_audit"
			}
			b.Run(name, func(b *testing.B) {
				db := dbtest.New(b, kind)
				s := dbtest.Open(b, db)
				f := storetest.NewFixture(&testing.T{}, s, "bench")
				scope := domain.OrgScope(f.Org.ID)
				b.SetParallelism(8)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						err := s.Write(context.Background(), scope, func(tx domain.Tx) error {
							if err := tx.RecordLoginSuccess(f.Admin.ID, tx.Now()); err != nil {
								return err
							}
							if withAudit {
								tx.Audit(domain.AuditEvent{Action: "auth.login", UserID: f.Admin.ID, Success: true,
									Details: map[string]any{"method": "password"}})
							}
							return nil
						})
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}
