package engine

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/superagent-hq/superagent/internal/domain"
)

// panickyStore runs writes for the combining lanes' tests: a write blocks
// while gate is set, panics while panics is set, and otherwise runs the
// batch's functions (WriteBatch) or answers errWritten (Write).
type panickyStore struct {
	domain.Store
	mu     sync.Mutex
	gate   chan struct{}
	panics bool
}

var errWritten = errors.New("written")

func (s *panickyStore) Kind() string { return "sqlite" }

func (s *panickyStore) enter() {
	s.mu.Lock()
	gate, panics := s.gate, s.panics
	s.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if panics {
		panic("a bug in a write")
	}
}

func (s *panickyStore) WriteBatch(_ context.Context, items []domain.BatchItem) error {
	s.enter()
	for i := range items {
		items[i].Err = items[i].Fn(nil)
	}
	return nil
}

func (s *panickyStore) Write(context.Context, domain.Scope, func(domain.Tx) error) error {
	s.enter()
	return errWritten
}

func (s *panickyStore) set(gate chan struct{}, panics bool) {
	s.mu.Lock()
	s.gate, s.panics = gate, panics
	s.mu.Unlock()
}

// within fails the test when fn does not return in time (a stuck lane).
func within(t *testing.T, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: still waiting after 10 s", what)
	}
}

// waitPending waits until n writes are queued behind the running one.
func waitPending(t *testing.T, n func() int, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for n() < want {
		if time.Now().After(deadline) {
			t.Fatalf("%d writes queued, want %d", n(), want)
		}
		time.Sleep(time.Millisecond)
	}
}

// callTwice calls fn in two goroutines and sends each one's panic or
// error on the channel it returns.
func callTwice(fn func() error) chan any {
	results := make(chan any, 2)
	for range 2 {
		go func() {
			var err error
			if p := panicked(func() { err = fn() }); p != nil {
				results <- p
				return
			}
			results <- err
		}()
	}
	return results
}

// onePanicOneError checks the two results of a panicking batch's calls:
// the leader's panic, and the other's errBatchPanicked.
func onePanicOneError(t *testing.T, what string, results chan any) {
	t.Helper()
	var panics, failed int
	within(t, "the panicking batch's "+what, func() {
		for range 2 {
			switch r := <-results; {
			case r == "a bug in a write":
				panics++
			case r == errBatchPanicked:
				failed++
			default:
				t.Errorf("a call of the panicking batch of %s: %v", what, r)
			}
		}
	})
	if panics != 1 || failed != 1 {
		t.Errorf("%s: %d panicked and %d got the batch's error, want 1 and 1", what, panics, failed)
	}
}

// panicked runs fn and returns what it panicked with.
func panicked(fn func()) (p any) {
	defer func() { p = recover() }()
	fn()
	return nil
}

// TestCommitterSurvivesAPanickingBatch: a write whose batch panics (a bug)
// panics in its own goroutine, the other writes of that batch get an
// error, and the lane goes on committing later writes.
func TestCommitterSurvivesAPanickingBatch(t *testing.T) {
	store := &panickyStore{}
	c := newCommitter(store)
	l := c.lanes[0]
	write := func() error {
		return c.write(context.Background(), "key", domain.OrgScope("org"), nil, func(domain.Tx) error { return nil })
	}
	gate := make(chan struct{})
	store.set(gate, false)
	first := make(chan error, 1)
	go func() { first <- write() }()
	waitPending(t, func() int { l.mu.Lock(); defer l.mu.Unlock(); return boolInt(l.busy) }, 1)
	results := callTwice(write)
	waitPending(t, func() int { l.mu.Lock(); defer l.mu.Unlock(); return len(l.pending) }, 2)
	store.set(nil, true) // the next batch, the two queued writes, panics
	close(gate)
	if err := <-first; err != nil {
		t.Fatalf("the first batch: %v", err)
	}
	onePanicOneError(t, "writes", results)
	store.set(nil, false)
	within(t, "a write after the panic", func() {
		if err := write(); err != nil {
			t.Errorf("a write after the panic: %v", err)
		}
	})
}

// TestStartsSurviveAPanickingBatch: the same for starts written together.
func TestStartsSurviveAPanickingBatch(t *testing.T) {
	store := &panickyStore{}
	e := &Engine{store: store}
	p := &domain.Principal{OrgID: "org", UserID: "user"}
	start := func() error {
		_, err := e.startBatched(context.Background(), p, &ExecuteRequest{WorkflowID: "wf"}, map[string]any{}, "")
		return err
	}
	pending := func() int {
		e.starts.mu.Lock()
		defer e.starts.mu.Unlock()
		if l := e.starts.lanes[p.Scope()]; l != nil {
			return len(l.pending)
		}
		return 0
	}
	gate := make(chan struct{})
	store.set(gate, false)
	first := make(chan error, 1)
	go func() { first <- start() }()
	waitPending(t, func() int {
		e.starts.mu.Lock()
		defer e.starts.mu.Unlock()
		return len(e.starts.lanes)
	}, 1)
	results := callTwice(start)
	waitPending(t, pending, 2)
	store.set(nil, true)
	close(gate)
	if err := <-first; !errors.Is(err, errWritten) {
		t.Fatalf("the first start: %v", err)
	}
	onePanicOneError(t, "starts", results)
	store.set(nil, false)
	within(t, "a start after the panic", func() {
		if err := start(); !errors.Is(err, errWritten) {
			t.Errorf("a start after the panic: %v", err)
		}
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
