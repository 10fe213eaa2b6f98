package sqlstore_test

import (
	"testing"

	"github.com/superagent-hq/superagent/internal/domain"
	"github.com/superagent-hq/superagent/internal/store/dbtest"
	"github.com/superagent-hq/superagent/internal/store/storetest"
)

func TestStore(t *testing.T) {
	for _, kind := range dbtest.Kinds(t) {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			storetest.Run(t, func(t *testing.T) domain.Store {
				return dbtest.Open(t, dbtest.New(t, kind))
			})
		})
	}
}
