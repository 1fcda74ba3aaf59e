package erasure

import (
	"sync"
	"sync/atomic"
	"time"
)

// StoreRetryAfter is how long new pack writes pass over a store after a
// put to it failed, before one of them tries it again (SPEC.md §9.8). A
// store that is down or full would otherwise cost every pack a failed put
// first, and an S3 store's failure can take its retries with backoff.
const StoreRetryAfter = 30 * time.Second

// health remembers which stores failed a put recently. It only steers
// where new shards go; reads and scrubs try every store regardless.
type health struct {
	mu   sync.Mutex
	down map[uint16]time.Time // store ID → until when writes pass it over
	now  func() time.Time
}

func newHealth() *health {
	return &health{down: map[uint16]time.Time{}, now: time.Now}
}

// isDown reports whether writes should pass over store id now.
func (h *health) isDown(id uint16) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	until, ok := h.down[id]
	return ok && h.now().Before(until)
}

// markDown records that a put to store id failed. It reports whether the
// store was taking writes until now, so the caller logs the change once.
func (h *health) markDown(id uint16) (wasUp bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, wasDown := h.down[id]
	h.down[id] = h.now().Add(StoreRetryAfter)
	return !wasDown
}

// markUp records that a put to store id succeeded. It reports whether the
// store was marked down, so the caller logs its return once.
func (h *health) markUp(id uint16) (wasDown bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.down[id]; !ok {
		return false
	}
	delete(h.down, id)
	return true
}

// WritesPassOver reports whether new writes pass over store id now: a put
// to it failed less than StoreRetryAfter ago. Writers of objects kept
// outside packs (meta objects) put their copies elsewhere first, as pack
// writes do.
func (c *Coder) WritesPassOver(id uint16) bool { return c.health.isDown(id) }

// PutFailed records that a put to store id failed for the store's sake
// (not because the caller's context ended): new writes pass it over for
// StoreRetryAfter.
func (c *Coder) PutFailed(id uint16, err error) {
	if c.health.markDown(id) {
		c.log.Warn("erasure: store failed a write; new shards go to other stores until it takes writes again",
			"store", id, "retry_after", StoreRetryAfter.String(), "err", err.Error())
	}
}

// PutSucceeded records that a put to store id succeeded: writes use it
// again if they passed it over.
func (c *Coder) PutSucceeded(id uint16) {
	if c.health.markUp(id) {
		c.log.Info("erasure: store takes writes again", "store", id)
	}
}

// UnreachableFor is how long reads read around a store after a read from it
// found the store unavailable (a gone directory, an S3 endpoint that does
// not answer), before they ask it again (SPEC.md §9.9). Without it, every
// read of every pack with a data shard there would wait for the store to
// fail again: for an S3 endpoint behind a partition, its dial timeouts and
// retries.
const UnreachableFor = 30 * time.Second

// reachability remembers stores that reads found unavailable.
type reachability struct {
	marked  atomic.Int32 // len(until), read without the lock on every read
	mu      sync.Mutex
	until   map[uint16]time.Time
	probing map[uint16]bool // a probe of the store is running
	now     func() time.Time
}

func newReachability() *reachability {
	return &reachability{until: map[uint16]time.Time{}, probing: map[uint16]bool{}, now: time.Now}
}

// markUnreachable records that a read found store id unavailable. It
// reports whether the store was reachable until now.
func (r *reachability) markUnreachable(id uint16) (wasReachable bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, was := r.until[id]
	r.until[id] = r.now().Add(UnreachableFor)
	r.marked.Store(int32(len(r.until)))
	return !was
}

// reached records that a read from store id succeeded: reads stop going
// around it, if they did.
func (r *reachability) reached(id uint16) {
	if r.marked.Load() == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.clear(id)
}

// clear forgets store id. r.mu is held.
func (r *reachability) clear(id uint16) {
	delete(r.until, id)
	r.marked.Store(int32(len(r.until)))
}

// unreachable reports whether reads should read around store id now. Once
// UnreachableFor has passed it starts probe (the store's cheap
// availability check) on another goroutine and goes on reading around the
// store until the probe succeeds; a probe that fails keeps the store
// unreachable for another UnreachableFor. No read waits for a probe: that
// of a store that does not answer takes its timeout. A store without a
// probe (nil) is simply asked again.
func (r *reachability) unreachable(id uint16, probe func() error) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	until, ok := r.until[id]
	if !ok || r.now().Before(until) || r.probing[id] {
		return ok
	}
	if probe == nil {
		r.clear(id)
		return false
	}
	r.probing[id] = true
	go func() {
		err := probe()
		r.mu.Lock()
		defer r.mu.Unlock()
		delete(r.probing, id)
		if _, still := r.until[id]; !still {
			return // a read reached it meanwhile
		}
		if err != nil {
			r.until[id] = r.now().Add(UnreachableFor)
			return
		}
		r.clear(id)
	}()
	return true
}
