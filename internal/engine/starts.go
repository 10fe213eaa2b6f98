package engine

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/superagent-hq/superagent/internal/domain"
)

// starts batches concurrent starts of one scope into one transaction.
//
// A start takes its organization's admission counter and audit-chain head
// and holds both until it commits, so one organization's starts commit one
// after another, each paying its round trips and WAL flush under the locks
// (about 250–320 a second on two cores). Starts that arrive while a start
// of their scope is being written wait and go into the next transaction
// together (flat combining, as the committer does for completions): their
// executions, steps, events, jobs, counts and audit rows are written with
// one statement each, so the locks are held once for all of them. A lone
// start is written at once, as before.
//
// A batch is all or nothing, and only for starts that need nothing but the
// plain path: when a start cannot go in (its workflow or input is refused)
// or the batch would not fit in the organization's limits, the batch is
// rolled back and each of its starts runs on its own (startOne), which
// answers exactly as it would have alone: the error, or the execution left
// pending under the concurrency limit.
type starts struct {
	mu    sync.Mutex
	lanes map[domain.Scope]*startLane
}

type startLane struct {
	pending []*startReq
	busy    bool
}

type startReq struct {
	ctx   context.Context
	p     *domain.Principal
	req   *ExecuteRequest
	input any
	hash  string

	exe   *domain.Execution
	err   error
	alone bool // not started: the caller starts it on its own
	done  chan struct{}
	lead  chan struct{}
}

// maxStartBatch bounds the starts of one transaction.
const maxStartBatch = 32

// errStartAlone rolls a batch back: its starts run on their own.
var errStartAlone = errors.New("the starts run on their own")

// startBatched starts an execution with the concurrent starts of its scope.
func (e *Engine) startBatched(ctx context.Context, p *domain.Principal, req *ExecuteRequest, input any, hash string) (*domain.Execution, error) {
	scope := p.Scope()
	r := &startReq{ctx: ctx, p: p, req: req, input: input, hash: hash, done: make(chan struct{}), lead: make(chan struct{}, 1)}
	s := &e.starts
	s.mu.Lock()
	if s.lanes == nil {
		s.lanes = map[domain.Scope]*startLane{}
	}
	l := s.lanes[scope]
	if l == nil {
		l = &startLane{}
		s.lanes[scope] = l
	}
	l.pending = append(l.pending, r)
	lead := !l.busy
	l.busy = true
	s.mu.Unlock()
	if lead {
		e.runStarts(scope, l)
	}
	for {
		select {
		case <-r.done:
			if r.alone {
				return e.startOne(ctx, p, req, input, hash)
			}
			return r.exe, r.err
		case <-r.lead:
			e.runStarts(scope, l)
		}
	}
}

// runStarts writes the lane's pending starts (up to maxStartBatch) and
// passes the lead to a waiting start when more are pending.
func (e *Engine) runStarts(scope domain.Scope, l *startLane) {
	s := &e.starts
	s.mu.Lock()
	n := min(len(l.pending), maxStartBatch)
	batch := append([]*startReq(nil), l.pending[:n]...)
	l.pending = l.pending[n:]
	s.mu.Unlock()

	// A panic (a bug) fails the batch's starts, none written, and goes on
	// up the leader's stack; the lane goes on.
	defer func() {
		if p := recover(); p != nil {
			for _, r := range batch {
				r.exe, r.err, r.alone = nil, errBatchPanicked, false
				close(r.done)
			}
			s.handOff(scope, l)
			panic(p)
		}
	}()
	if len(batch) == 1 {
		r := batch[0]
		r.exe, r.err = e.startOne(r.ctx, r.p, r.req, r.input, r.hash)
	} else {
		// The batch is written for all of its starts, whichever of them
		// leads it: the leader's cancellation does not cancel the others.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(batch[0].ctx), 30*time.Second)
		if err := e.startTogether(ctx, scope, batch); err != nil {
			for _, r := range batch {
				r.exe, r.alone = nil, true
			}
		}
		cancel()
	}
	for _, r := range batch {
		close(r.done)
	}
	s.handOff(scope, l)
}

// handOff passes the lane's lead to its first waiting start, or retires
// the lane.
func (s *starts) handOff(scope domain.Scope, l *startLane) {
	s.mu.Lock()
	if len(l.pending) > 0 {
		l.pending[0].lead <- struct{}{}
	} else {
		l.busy = false
		delete(s.lanes, scope)
	}
	s.mu.Unlock()
}

// runnableKey names what a start runs, to read it once per batch.
type runnableKey struct {
	workflowID string
	env        domain.Environment
	version    int
}

// startTogether writes the starts of batch, all of one scope, in one
// transaction: every one of them started, or (an error) none. A start
// whose workflow or input is refused is left out, marked alone.
func (e *Engine) startTogether(ctx context.Context, scope domain.Scope, batch []*startReq) error {
	type target struct {
		wf      *domain.Workflow
		version int
		c       *compiled
		err     error
	}
	var in []*startReq
	return e.store.Write(ctx, scope, func(tx domain.Tx) error {
		in = in[:0]
		org, err := tx.GetOrganization(scope.OrgID)
		if err != nil {
			return err
		}
		running, err := tx.CountRunningExecutions()
		if err != nil {
			return err
		}
		now := tx.Now()
		targets := map[runnableKey]target{}
		var execs []domain.NewExecution
		var roots []*compiled
		for _, r := range batch {
			k := runnableKey{r.req.WorkflowID, r.req.Environment, r.req.Version}
			t, ok := targets[k]
			if !ok {
				// Should the read fail in the database, the transaction's
				// next statement fails and takes the batch with it.
				t.wf, t.version, t.c, t.err = e.runnable(tx, k.workflowID, k.env, k.version)
				targets[k] = t
			}
			if t.err != nil || checkInput(t.c, r.input) != nil {
				r.alone = true // its own start answers why not
				continue
			}
			n := e.newExecution(now, r.p, t.wf, t.version, t.c, r.req, domain.NewID(domain.PrefixExecution), true)
			execs = append(execs, n)
			roots = append(roots, t.c)
			r.exe = n.Execution
			in = append(in, r)
		}
		// Room for all of them, as the last would see it: the others
		// running, and the rest of the batch.
		if len(in) == 0 || running+len(in) > org.Limits.MaxConcurrentExecutions {
			return errStartAlone
		}
		if err := tx.CreateExecutionsWith(execs); err != nil {
			return err
		}
		var jobs []river.InsertManyParams // made once the executions know their organization
		for i, n := range execs {
			jobs = append(jobs, rootJobs(n.Execution, roots[i], priorityFor(running))...)
		}
		if err := e.insertJobs(ctx, tx, jobs); err != nil {
			return err
		}
		thisMonth, lastHour, running, err := tx.CountExecutionStart(now.Add(-time.Hour), now, len(in))
		if err != nil {
			return err
		}
		if e.limitExceeded(org, thisMonth, lastHour, now) != nil || running > org.Limits.MaxConcurrentExecutions {
			return errStartAlone
		}
		for _, r := range in {
			tx.Audit(startedAudit(r.p, r.exe, r.req))
		}
		return nil
	})
}
