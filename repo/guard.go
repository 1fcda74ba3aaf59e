package repo

import (
	"sync"
	"sync/atomic"
	"time"
)

// gcGuard is one repository's reader/writer guard between the operations
// that make a chunk "wanted" and garbage collection's decision that it is
// not (SPEC.md §13.6).
//
// Shared holders are the steps whose answer depends on a chunk still being
// in the index when the step's index batch lands: FilterMissing's presence
// check and pin batch, PutChunks' dedup check and pin batch, and a commit's
// reference check and snapshot batch. The exclusive holder is GC's seal
// step, which decides which candidates die and deletes them. Because each
// shared step is atomic with respect to a seal step, a chunk is either still
// present when the step's batch commits (and the pin or snapshot then
// protects it at the next seal), or already gone when the step checks (and
// the step sees it as missing).
type gcGuard struct {
	mu      sync.RWMutex
	running atomic.Bool // a GC of this repository is in progress

	holds   atomic.Int64 // exclusive holds so far
	held    atomic.Int64 // total nanoseconds held exclusively
	maxHeld atomic.Int64 // longest single exclusive hold
}

func (r *Repo) guard(repoID uint32) *gcGuard {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.guards == nil {
		r.guards = map[uint32]*gcGuard{}
	}
	g, ok := r.guards[repoID]
	if !ok {
		g = &gcGuard{}
		r.guards[repoID] = g
	}
	return g
}

// GCShared takes repository repoID's GC guard shared and returns its
// release. Hold it around a presence check and the index batch that relies
// on it (pins, a snapshot record); never take it twice on one goroutine (a
// waiting seal would deadlock the second take).
func (r *Repo) GCShared(repoID uint32) (release func()) {
	g := r.guard(repoID)
	g.mu.RLock()
	return g.mu.RUnlock
}

// GCExclusive takes repository repoID's GC guard exclusively and returns
// its release. Only garbage collection's seal step takes it; it waits for
// every shared holder to finish and keeps new ones out until released, so
// keep the hold short. The hold time is recorded (see GCGuardStats).
func (r *Repo) GCExclusive(repoID uint32) (release func()) {
	g := r.guard(repoID)
	g.mu.Lock()
	start := time.Now()
	return func() {
		d := int64(time.Since(start))
		g.holds.Add(1)
		g.held.Add(d)
		for {
			m := g.maxHeld.Load()
			if d <= m || g.maxHeld.CompareAndSwap(m, d) {
				break
			}
		}
		g.mu.Unlock()
	}
}

// GuardStats says how long GC held a repository's guard exclusively.
type GuardStats struct {
	Holds int64         // number of exclusive holds
	Total time.Duration // sum of their durations
	Max   time.Duration // the longest
}

// GCGuardStats returns the exclusive-hold statistics of repoID's guard
// since the engine opened.
func (r *Repo) GCGuardStats(repoID uint32) GuardStats {
	g := r.guard(repoID)
	return GuardStats{Holds: g.holds.Load(), Total: time.Duration(g.held.Load()), Max: time.Duration(g.maxHeld.Load())}
}

// BeginGC marks a garbage collection of repoID as running and returns the
// function that ends it, or ok = false if one is already running. The index
// is opened by one process only, so this in-memory flag is enough to keep
// collections of one repository from overlapping.
func (r *Repo) BeginGC(repoID uint32) (end func(), ok bool) {
	g := r.guard(repoID)
	if !g.running.CompareAndSwap(false, true) {
		return nil, false
	}
	return func() { g.running.Store(false) }, true
}
