package engine

import (
	"context"
	"errors"
	"hash/fnv"
	"sort"
	"sync"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
)

// committer group-commits step completions across executions: writes that
// arrive while a batch is committing wait and go into the next one, so
// under load one transaction (one commit, one WAL flush) carries many
// completions, each rolled back alone if it fails (see Store.WriteBatch);
// with no load a write commits at once, alone. There is no goroutine: the
// first waiting writer runs the batch (flat combining).
type committer struct {
	lanes []*lane
}

// lane is one stream of batches; keys map to lanes by hash, so batches
// commit in parallel on PostgreSQL (one connection each).
type lane struct {
	store   domain.Store
	mu      sync.Mutex
	pending []*commitReq
	busy    bool
}

func newCommitter(store domain.Store) *committer {
	n := 1 // SQLite has one writer: parallel batches would only queue
	if store.Kind() == "postgres" {
		// Two lanes: one batch's statements overlap the other's commit.
		// Since a batch's completions are one statement, fewer and larger
		// batches pay: on two cores, 1,000 ten-step chains and 500
		// fan-outs ran at 1,740–1,970 and 2,370–2,450 steps/s with two
		// lanes, 1,800 and 1,910 with four, 1,370–1,510 and 2,000 with
		// eight, 1,700–1,750 and 1,920–1,980 with one.
		n = 2
	}
	c := &committer{}
	for range n {
		c.lanes = append(c.lanes, &lane{store: store})
	}
	return c
}

type commitReq struct {
	key  string // execution id: batches lock executions in one global order
	item domain.BatchItem
	done chan error
	lead chan struct{}
}

// maxBatch bounds one transaction's writes.
const maxBatch = 64

// write runs fn in scope, batched with concurrent writes. finish, when
// not nil, is the step completion fn starts with (see
// domain.BatchItem.Finish).
func (c *committer) write(ctx context.Context, key string, scope domain.Scope, finish *domain.FinishCall, fn func(tx domain.Tx) error) error {
	h := fnv.New32a()
	h.Write([]byte(key))
	return c.lanes[int(h.Sum32())%len(c.lanes)].write(key, domain.BatchItem{Scope: scope, Fn: fn, Finish: finish})
}

func (c *lane) write(key string, item domain.BatchItem) error {
	req := &commitReq{key: key, item: item, done: make(chan error, 1), lead: make(chan struct{}, 1)}
	c.mu.Lock()
	c.pending = append(c.pending, req)
	if !c.busy {
		c.busy = true
		c.mu.Unlock()
		c.runBatch()
	} else {
		c.mu.Unlock()
	}
	for {
		select {
		case err := <-req.done:
			return err
		case <-req.lead:
			c.runBatch()
		}
	}
}

// runBatch commits the pending writes (up to maxBatch) and passes the lead
// to a waiting writer when more are pending.
func (c *lane) runBatch() {
	c.mu.Lock()
	n := min(len(c.pending), maxBatch)
	batch := append([]*commitReq(nil), c.pending[:n]...)
	c.pending = c.pending[n:]
	c.mu.Unlock()

	// One lock order for every batch of every process: no deadlocks. An
	// organization's items are consecutive, so they share one tenant
	// setting and their completions one statement.
	sort.SliceStable(batch, func(i, j int) bool {
		a, b := batch[i].item.Scope.OrgID, batch[j].item.Scope.OrgID
		return a < b || a == b && batch[i].key < batch[j].key
	})
	items := make([]domain.BatchItem, len(batch))
	for i, r := range batch {
		items[i] = r.item
	}
	// A panic in the batch (a bug in an item's write) rolls it back: its
	// writers get an error, the lane goes on, and the panic goes on up
	// the leader's stack.
	defer func() {
		if p := recover(); p != nil {
			for _, r := range batch {
				r.done <- errBatchPanicked
			}
			c.handOff()
			panic(p)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	err := c.store.WriteBatch(ctx, items)
	cancel()
	for i, r := range batch {
		e := items[i].Err
		if e == nil && err != nil {
			e = err
		}
		r.done <- e
	}
	c.handOff()
}

// errBatchPanicked answers the writes of a batch that panicked.
var errBatchPanicked = errors.New("the write's batch failed on an internal error and was rolled back")

// handOff passes the lead to the first waiting writer, or leaves the lane
// idle.
func (c *lane) handOff() {
	c.mu.Lock()
	if len(c.pending) > 0 {
		c.pending[0].lead <- struct{}{}
	} else {
		c.busy = false
	}
	c.mu.Unlock()
}
