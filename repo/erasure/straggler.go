package erasure

import (
	"context"
	"errors"
	"sync"
	"time"
)

// DefaultStragglerWait is the least time a shard put may run on after k
// shards of its pack are durable, before the write gives up on its store
// and puts the shard elsewhere (SPEC.md §9.8).
const DefaultStragglerWait = 15 * time.Second

// stragglerFactor: a put may also run on for this many times the slowest
// put of the pack that succeeded.
const stragglerFactor = 4

// errStraggler is why a put was cancelled: its store took far longer than
// the pack's other stores. A store that drops packets (a network
// partition) fails a put only when a dial or read times out, after
// retries: minutes, during which the pack would hold its in-flight slot.
var errStraggler = errors.New("the store took far longer than the others, so the shard goes elsewhere")

// stragglers watches the shard puts of one pack write. Once k shards are
// durable, a put still running after max(wait, stragglerFactor × the
// slowest successful put) from then (or from its start, if later) is
// cancelled with errStraggler.
type stragglers struct {
	mu      sync.Mutex
	need    int
	wait    time.Duration
	done    int
	slowest time.Duration
	armed   time.Time // when k shards were durable; zero before
	running map[*attempt]bool
}

type attempt struct {
	start  time.Time
	cancel context.CancelCauseFunc
	timer  *time.Timer
}

func (c *Coder) newStragglers() *stragglers { return c.newStragglersOf(c.k) }

func (c *Coder) newStragglersOf(need int) *stragglers {
	return &stragglers{need: need, wait: c.stragglerWait, running: map[*attempt]bool{}}
}

// Stragglers watches a group of puts that write copies of one thing (the
// copies of a meta object) by the same rule as a pack's shard puts: once
// need of them succeeded, a put still running after max(StragglerWait, 4 ×
// the slowest successful one) is cancelled, and [GaveUp] then reports
// why.
type Stragglers struct{ s *stragglers }

// Stragglers returns a watcher for puts of which need must succeed before
// the rest may be given up on.
func (c *Coder) Stragglers(need int) *Stragglers {
	return &Stragglers{c.newStragglersOf(need)}
}

// Begin starts watching one put: the put runs with the returned context,
// and end is called with whether it succeeded.
func (s *Stragglers) Begin(ctx context.Context) (context.Context, func(ok bool)) {
	return s.s.begin(ctx)
}

// GaveUp returns the error for a put that failed because the watcher
// cancelled its context (actx, from Begin), or nil if it did not.
func GaveUp(actx context.Context) error {
	if errors.Is(context.Cause(actx), errStraggler) {
		return errStraggler
	}
	return nil
}

// begin starts watching one put and returns its context and the function
// to call when it ends.
func (s *stragglers) begin(ctx context.Context) (context.Context, func(ok bool)) {
	actx, cancel := context.WithCancelCause(ctx)
	a := &attempt{start: time.Now(), cancel: cancel}
	s.mu.Lock()
	s.running[a] = true
	if !s.armed.IsZero() {
		s.scheduleLocked(a)
	}
	s.mu.Unlock()
	return actx, func(ok bool) { s.end(a, ok) }
}

func (s *stragglers) end(a *attempt, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.running, a)
	if a.timer != nil {
		a.timer.Stop()
	}
	a.cancel(nil)
	if !ok {
		return
	}
	s.done++
	s.slowest = max(s.slowest, time.Since(a.start))
	if s.done == s.need {
		s.armed = time.Now()
		for b := range s.running {
			s.scheduleLocked(b)
		}
	}
}

// scheduleLocked arms the cancellation of a running put.
func (s *stragglers) scheduleLocked(a *attempt) {
	from := a.start
	if s.armed.After(from) {
		from = s.armed
	}
	limit := max(s.wait, stragglerFactor*s.slowest)
	a.timer = time.AfterFunc(time.Until(from.Add(limit)), func() { a.cancel(errStraggler) })
}
