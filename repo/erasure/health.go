package erasure

import (
	"sync"
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
