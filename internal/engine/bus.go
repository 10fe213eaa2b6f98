package engine

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Bus carries an execution's live signals inside a process and, on
// PostgreSQL, between processes: "new events are stored" wake-ups, streamed
// LLM text (step.delta) and cancellation. Cross-process messages travel as
// batched NOTIFYs sent outside step transactions — a NOTIFY takes a
// database-wide lock at commit, so the bus never adds one per step — and
// arrive through one LISTEN connection per process.
type Bus struct {
	log *slog.Logger

	mu      sync.Mutex
	subs    map[string]map[*Subscription]struct{}
	cancels map[string]map[*cancelEntry]struct{}
	deltas  map[string]map[string]*strings.Builder // execution → node → text so far
	outbox  []busMessage

	dsn     string
	kick    chan struct{}
	stopped chan struct{}
}

// busMessage is one signal. Kind is "e" (events stored), "d" (delta text),
// "c" (cancel) or "x" (execution finished: forget its deltas).
type busMessage struct {
	Kind string `json:"k"`
	Exec string `json:"x"`
	Node string `json:"n,omitempty"`
	Text string `json:"t,omitempty"`
	// From identifies the sending process, so it ignores its own echo.
	From string `json:"f,omitempty"`
}

const busChannel = "superagent_bus"

// Subscription receives an execution's signals.
type Subscription struct {
	// Wake has a value when new lifecycle events may have been stored.
	Wake chan struct{}
	// Deltas carries streamed text as it arrives.
	Deltas chan Delta
	// Ended has a value once the bus carried the execution's end (sent
	// by the process that ended it, after its commit and after any text
	// that process published before).
	Ended chan struct{}
	exec  string
	bus   *Bus
}

// Delta is a piece of streamed LLM text.
type Delta struct {
	NodeID string
	Text   string
}

type cancelEntry struct {
	cancel context.CancelFunc
	org    string
	since  time.Time
}

// NewBus returns a bus; with a PostgreSQL dsn, Run connects processes.
func NewBus(dsn string, log *slog.Logger) *Bus {
	return &Bus{log: log, dsn: dsn, subs: map[string]map[*Subscription]struct{}{},
		cancels: map[string]map[*cancelEntry]struct{}{}, deltas: map[string]map[string]*strings.Builder{},
		kick: make(chan struct{}, 1), stopped: make(chan struct{})}
}

// Subscribe starts receiving signals for an execution; Close stops.
func (b *Bus) Subscribe(execID string) *Subscription {
	s := &Subscription{Wake: make(chan struct{}, 1), Deltas: make(chan Delta, 256), Ended: make(chan struct{}, 1), exec: execID, bus: b}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.subs[execID] == nil {
		b.subs[execID] = map[*Subscription]struct{}{}
	}
	b.subs[execID][s] = struct{}{}
	return s
}

// Close ends the subscription.
func (s *Subscription) Close() {
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	delete(s.bus.subs[s.exec], s)
	if len(s.bus.subs[s.exec]) == 0 {
		delete(s.bus.subs, s.exec)
	}
}

// DeltasSoFar returns the text streamed so far for the execution's
// running steps, by node, as known to this process.
func (b *Bus) DeltasSoFar(execID string) map[string]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string]string{}
	for node, sb := range b.deltas[execID] {
		out[node] = sb.String()
	}
	return out
}

// registerCancel makes cancel run when the execution is cancelled; the
// returned func unregisters it.
func (b *Bus) registerCancel(orgID, execID string, cancel context.CancelFunc) func() {
	e := &cancelEntry{cancel: cancel, org: orgID, since: time.Now()}
	b.mu.Lock()
	if b.cancels[execID] == nil {
		b.cancels[execID] = map[*cancelEntry]struct{}{}
	}
	b.cancels[execID][e] = struct{}{}
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		delete(b.cancels[execID], e)
		if len(b.cancels[execID]) == 0 {
			delete(b.cancels, execID)
		}
		b.mu.Unlock()
	}
}

// watched lists, by organization, the executions with a step that has
// been running here since before the given time.
func (b *Bus) watched(before time.Time) map[string][]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string][]string{}
	for exec, entries := range b.cancels {
		for e := range entries {
			if e.since.Before(before) {
				out[e.org] = append(out[e.org], exec)
				break
			}
		}
	}
	return out
}

// cancelHere stops the execution's steps running in this process, as a
// cancel signal would.
func (b *Bus) cancelHere(execID string) { b.deliver(busMessage{Kind: "c", Exec: execID}) }

// EventsStored signals that new lifecycle events of the execution are committed.
func (b *Bus) EventsStored(execID string) { b.send(busMessage{Kind: "e", Exec: execID}) }

// Cancel stops the execution's running steps in every process.
func (b *Bus) Cancel(execID string) { b.send(busMessage{Kind: "c", Exec: execID}) }

// Finished forgets the execution's streamed text.
func (b *Bus) Finished(execID string) { b.send(busMessage{Kind: "x", Exec: execID}) }

// StepDelta carries streamed text of a running step.
func (b *Bus) StepDelta(execID, nodeID, text string) {
	b.send(busMessage{Kind: "d", Exec: execID, Node: nodeID, Text: text})
}

// StepEnded forgets one step's streamed text (it is in the stored output now).
func (b *Bus) StepEnded(execID, nodeID string) {
	b.mu.Lock()
	delete(b.deltas[execID], nodeID)
	b.mu.Unlock()
}

func (b *Bus) send(m busMessage) {
	b.deliver(m)
	if b.dsn == "" {
		return
	}
	b.mu.Lock()
	b.outbox = append(b.outbox, m)
	b.mu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// deliver acts on a message in this process.
func (b *Bus) deliver(m busMessage) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch m.Kind {
	case "c":
		for e := range b.cancels[m.Exec] {
			e.cancel()
		}
		fallthrough
	case "e", "x":
		if m.Kind == "x" || m.Kind == "c" {
			delete(b.deltas, m.Exec)
		}
		for s := range b.subs[m.Exec] {
			select {
			case s.Wake <- struct{}{}:
			default:
			}
			if m.Kind != "e" {
				select {
				case s.Ended <- struct{}{}:
				default:
				}
			}
		}
	case "d":
		if b.deltas[m.Exec] == nil {
			b.deltas[m.Exec] = map[string]*strings.Builder{}
		}
		sb := b.deltas[m.Exec][m.Node]
		if sb == nil {
			sb = &strings.Builder{}
			b.deltas[m.Exec][m.Node] = sb
		}
		if sb.Len() < maxDeltaBytes {
			sb.WriteString(m.Text)
		}
		for s := range b.subs[m.Exec] {
			select {
			case s.Deltas <- Delta{NodeID: m.Node, Text: m.Text}:
			default: // a slow reader loses live text; a reconnect replays it
			}
		}
	}
}

// maxDeltaBytes bounds the streamed text kept per step for replays.
const maxDeltaBytes = 1 << 20

// Run connects the bus to other processes through PostgreSQL until ctx
// ends: one connection LISTENs, another sends the outbox as batched
// NOTIFYs every flushInterval. Without a dsn it only waits for ctx.
func (b *Bus) Run(ctx context.Context, processID string) {
	defer close(b.stopped)
	if b.dsn == "" {
		<-ctx.Done()
		return
	}
	go b.listen(ctx, processID)
	b.flushLoop(ctx, processID)
}

const flushInterval = 20 * time.Millisecond

func (b *Bus) flushLoop(ctx context.Context, processID string) {
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	for {
		stopping := false
		select {
		case <-ctx.Done():
			stopping = true // send what is left, then stop
		case <-b.kick:
			time.Sleep(flushInterval) // gather what arrives meanwhile into one batch
		}
		b.mu.Lock()
		batch := b.outbox
		b.outbox = nil
		b.mu.Unlock()
		if len(batch) > 0 {
			// Sent even while stopping: other processes may be waiting
			// for these signals (an execution's last events, a cancel).
			// A batch that fails is sent once more on a new connection (the
			// old one may have been closed under it); then it is dropped:
			// streams re-read stored events on their own, only live text
			// is lost.
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			for try := 0; try < 2; try++ {
				var err error
				if conn == nil || conn.IsClosed() {
					if conn, err = pgx.Connect(sctx, b.dsn); err != nil {
						conn = nil
						b.log.Warn("bus: cannot connect to send notifications", "error", err, "attempt", try+1)
						continue
					}
				}
				if err = sendBatch(sctx, conn, batch, processID); err != nil {
					b.log.Warn("bus: notify failed", "error", err, "attempt", try+1)
					conn.Close(context.Background())
					conn = nil
					continue
				}
				break
			}
			cancel()
		}
		if stopping {
			return
		}
	}
}

func sendBatch(ctx context.Context, conn *pgx.Conn, batch []busMessage, processID string) error {
	var payloads []string
	var cur []busMessage
	size := 2
	for _, m := range batch {
		m.From = processID
		raw, _ := json.Marshal(m)
		if len(raw) > 7800 { // a huge delta chunk: split its text
			half := len(m.Text) / 2
			a, c := m, m
			a.Text, c.Text = m.Text[:half], m.Text[half:]
			return sendBatch(ctx, conn, append([]busMessage{a, c}, batch[1:]...), processID)
		}
		if size+len(raw)+1 > 7800 && len(cur) > 0 {
			p, _ := json.Marshal(cur)
			payloads = append(payloads, string(p))
			cur, size = nil, 2
		}
		cur = append(cur, m)
		size += len(raw) + 1
	}
	if len(cur) > 0 {
		p, _ := json.Marshal(cur)
		payloads = append(payloads, string(p))
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background()) //nolint:errcheck
	for _, p := range payloads {
		if _, err := tx.Exec(ctx, "SELECT pg_notify($1, $2)", busChannel, p); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

func (b *Bus) listen(ctx context.Context, processID string) {
	for ctx.Err() == nil {
		conn, err := pgx.Connect(ctx, b.dsn)
		if err != nil {
			b.log.Warn("bus: cannot connect to listen", "error", err)
			sleepCtx(ctx, time.Second)
			continue
		}
		if _, err := conn.Exec(ctx, "LISTEN "+busChannel); err != nil {
			conn.Close(context.Background())
			sleepCtx(ctx, time.Second)
			continue
		}
		for {
			n, err := conn.WaitForNotification(ctx)
			if err != nil {
				break
			}
			var msgs []busMessage
			if json.Unmarshal([]byte(n.Payload), &msgs) != nil {
				continue
			}
			for _, m := range msgs {
				if m.From != processID {
					b.deliver(m)
				}
			}
		}
		conn.Close(context.Background())
		// Signals sent while we were disconnected are lost; wake every
		// local subscriber so it re-reads the stored events.
		b.mu.Lock()
		for _, subs := range b.subs {
			for s := range subs {
				select {
				case s.Wake <- struct{}{}:
				default:
				}
			}
		}
		b.mu.Unlock()
		sleepCtx(ctx, 200*time.Millisecond)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// cancelWatchInterval is how often WatchCancels looks for executions that
// ended while a step of theirs runs here.
const cancelWatchInterval = 3 * time.Second

// maxWatchBatch bounds the executions one look reads.
const maxWatchBatch = 500
