package index

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/repo/index/internal/uring"
)

// presence answers Missing without Pebble (SPEC.md §11.6). Pebble stays
// the truth; presence is derived from it and rebuilt from it:
//
//   - table: every chunk ID of a Pebble snapshot, sorted, in an unlinked
//     file, with a sparse in-memory index (fences) and a Bloom filter;
//   - deleted: the chunks deleted since that snapshot and not put again,
//     exactly (a map);
//   - puts: a Bloom filter of the chunks put since that snapshot, in
//     constant memory; an ID it may hold, and the table does not, is
//     looked up in Pebble;
//   - frozen copies of both while a newer table is being built: the
//     changes between the installed table's snapshot and the new one's.
//
// An ID is present if it is in no deleted map and either the table holds
// it or Pebble does (asked only when a put filter may hold it). The one
// answer that must never be wrong is "present" for an ID Pebble does not
// hold: the client would not upload it. So a deletion is recorded before
// its batch commits and a put only after, and a put batch never commits
// while a delete batch or a rotation is between those two steps
// (commitMu). Every other slip, such as a put not yet recorded, only
// answers "missing" for a chunk Pebble holds, and the upload that follows
// is deduplicated by the server.
type presence struct {
	budget int64 // bytes of fences and filters a table may use
	log    *slog.Logger

	// Bounds: the constants below; tests lower them.
	rebuildMin, rebuildMax, deletedMax int
	ring                               atomic.Bool // the last reader used io_uring

	// commitMu: batches that only put chunks hold it shared from their
	// commit to recording it; batches that delete chunks, and rotations,
	// hold it exclusively.
	commitMu sync.RWMutex

	mu            sync.Mutex
	table         *ptable // nil: not built, Missing asks Pebble
	tracking      bool    // changes are recorded: a table is installed or being built
	deleted       map[chunkRef]struct{}
	frozenDeleted map[chunkRef]struct{} // non-nil only while building
	puts          *putFilter
	frozenPuts    *putFilter         // non-nil only while building
	building      bool               // a build goroutine is running
	gen           uint64             // bumped by drop; a build of an older gen is discarded
	retryAt       time.Time          // after a failed build, no new one before this
	stats         presenceStats      // under mu
	readers       chan *uring.Reader // idle readers
	snapshot      func() *pebble.Snapshot
	build         func(context.Context, *pebble.Snapshot) (*ptable, error)
	confirm       func(repo uint32, ids []format.ID, s *scratch, positions []int) error

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	closed atomic.Bool
}

// chunkRef names one chunk of one repository.
type chunkRef struct {
	repo uint32
	id   format.ID
}

// chunkOp is a chunk put or delete in a Batch, recorded as a change
// once the batch commits.
type chunkOp struct {
	ref chunkRef
	del bool
}

// presenceStats are counters for Stats and the scale benchmark.
type presenceStats struct {
	builds      int64
	buildErrors int64
	drops       int64
	lastBuild   time.Duration
	answered    int64 // IDs Missing answered from presence
	reads       int64 // table reads those answers took
	confirmed   int64 // IDs a put filter sent to Pebble
}

const (
	// presenceReaders is how many idle io_uring readers are kept; Missing
	// calls beyond that open and close their own.
	presenceReaders = 4

	// ringEntries is one reader's submission queue: the reads in flight
	// per system call.
	ringEntries = 256

	// minRebuildAt and maxRebuildAt bound the changes at which a new table
	// is built (rebuildAt).
	minRebuildAt = 16 << 10
	maxRebuildAt = 1 << 20

	// maxDeleted caps the deleted maps' memory (about 60 bytes an entry):
	// past it the table is dropped, Missing asks Pebble, and the next
	// Missing starts a new build. Only a large garbage collection deletes
	// that many chunks between two builds.
	maxDeleted = 256 << 10

	// buildRetry is how long a failed build waits before the next try.
	buildRetry = 30 * time.Second
)

func newPresence(budget int64, log *slog.Logger) *presence {
	ctx, cancel := context.WithCancel(context.Background())
	return &presence{
		budget:     budget,
		log:        log,
		rebuildMin: minRebuildAt,
		rebuildMax: maxRebuildAt,
		deletedMax: maxDeleted,
		readers:    make(chan *uring.Reader, presenceReaders),
		ctx:        ctx,
		cancel:     cancel,
	}
}

// commit runs apply, which commits a Pebble batch holding ops, and records
// ops as changes in the order the type comment requires.
func (p *presence) commit(ops []chunkOp, apply func() error) error {
	if p == nil || len(ops) == 0 {
		return apply()
	}
	deletes := false
	for i := range ops {
		deletes = deletes || ops[i].del
	}
	if deletes {
		p.commitMu.Lock()
		defer p.commitMu.Unlock()
		p.record(ops, true)
	} else {
		p.commitMu.RLock()
		defer p.commitMu.RUnlock()
	}
	if err := apply(); err != nil {
		if deletes {
			// The deletions are recorded but may not have happened, and a
			// commit's reference check must not find a chunk it holds
			// missing: start again from Pebble.
			p.mu.Lock()
			p.dropLocked("a batch with deletions failed to commit")
			p.mu.Unlock()
		}
		return err
	}
	p.record(ops, false)
	return nil
}

// record writes ops into the changes: with deletesOnly, only the deletions
// (before the commit); otherwise every op in batch order, so that the last
// write of an ID wins as it does in Pebble.
func (p *presence) record(ops []chunkOp, deletesOnly bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.tracking {
		return
	}
	for i := range ops {
		ref := &ops[i].ref
		switch {
		case ops[i].del:
			p.deleted[*ref] = struct{}{}
		case !deletesOnly:
			delete(p.deleted, *ref)
			delete(p.frozenDeleted, *ref)
			p.puts.add(ref)
		}
	}
	if len(p.deleted)+len(p.frozenDeleted) > p.deletedMax {
		p.dropLocked("more chunks deleted since the last build than the bound keeps")
	}
}

// dropLocked forgets the table and the changes; Missing asks Pebble until
// a new build completes. A build running now is discarded when it ends.
func (p *presence) dropLocked(why string) {
	if p.table != nil {
		p.table.release()
	}
	p.table, p.tracking = nil, false
	p.deleted, p.frozenDeleted, p.puts, p.frozenPuts = nil, nil, nil, nil
	p.gen++
	p.stats.drops++
	p.log.Info("presence table dropped", "reason", why)
}

// changesLocked counts the changes since the installed table's snapshot.
func (p *presence) changesLocked() int {
	n := len(p.deleted) + len(p.frozenDeleted)
	for _, pf := range []*putFilter{p.puts, p.frozenPuts} {
		if pf != nil {
			n += pf.n
		}
	}
	return n
}

// rebuildAt is the number of changes that starts a new build of t: an
// eighth of t, so that the cost of rebuilding (a scan of every chunk key)
// stays proportional to the changes.
func (p *presence) rebuildAt(t *ptable) int {
	return min(max(int(t.entries/8), p.rebuildMin), p.rebuildMax)
}

// maybeBuild starts a build if there is no table, or the changes have grown
// enough, and none is running. Missing calls it; commits do not, so an
// index that only takes writes spends nothing on presence.
func (p *presence) maybeBuild() {
	if p.closed.Load() {
		return
	}
	p.mu.Lock()
	need := p.table == nil || p.changesLocked() >= p.rebuildAt(p.table)
	if !need || p.building || time.Now().Before(p.retryAt) {
		p.mu.Unlock()
		return
	}
	p.building = true
	p.mu.Unlock()

	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.runBuild()
	}()
}

// runBuild freezes the changes, takes a Pebble snapshot with no chunk batch
// in flight, builds a table from it and installs it.
func (p *presence) runBuild() {
	p.commitMu.Lock()
	p.mu.Lock()
	gen := p.gen
	p.frozenDeleted, p.deleted = p.deleted, make(map[chunkRef]struct{})
	p.frozenPuts, p.puts = p.puts, newPutFilter()
	p.tracking = true
	snap := p.snapshot()
	p.mu.Unlock()
	p.commitMu.Unlock()

	start := time.Now()
	t, err := p.build(p.ctx, snap)
	snap.Close()

	p.mu.Lock()
	defer p.mu.Unlock()
	p.building = false
	switch {
	case err != nil || p.closed.Load():
		if t != nil {
			t.release()
		}
		if err != nil && !p.closed.Load() {
			p.stats.buildErrors++
			p.retryAt = time.Now().Add(buildRetry)
			p.log.Warn("presence table build failed; Missing asks Pebble meanwhile", "err", err)
		}
		p.unfreezeLocked(gen)
	case gen != p.gen:
		t.release() // dropped while building: the changes since are gone
	default:
		if p.table != nil {
			p.table.release()
		}
		p.table, p.frozenDeleted, p.frozenPuts = t, nil, nil
		p.stats.builds++
		p.stats.lastBuild = time.Since(start)
	}
}

// unfreezeLocked puts the frozen changes back under the newer ones after
// a failed build, so the installed table stays usable.
func (p *presence) unfreezeLocked(gen uint64) {
	if gen != p.gen || !p.tracking {
		return
	}
	if p.table == nil {
		p.tracking = false // nothing to track against
		p.deleted, p.frozenDeleted, p.puts, p.frozenPuts = nil, nil, nil, nil
		return
	}
	for k := range p.frozenDeleted {
		p.deleted[k] = struct{}{}
	}
	if p.frozenPuts != nil {
		p.puts.merge(p.frozenPuts)
	}
	p.frozenDeleted, p.frozenPuts = nil, nil
}

// getReader returns an idle reader or a new one.
func (p *presence) getReader() *uring.Reader {
	select {
	case r := <-p.readers:
		return r
	default:
		return uring.NewReader(ringEntries)
	}
}

func (p *presence) putReader(r *uring.Reader) {
	if p.closed.Load() {
		_ = r.Close()
		return
	}
	select {
	case p.readers <- r:
	default:
		_ = r.Close()
	}
}

// close stops a running build, waits for it, and releases the table and
// the idle readers. Missing must not run concurrently (Index.Close).
func (p *presence) close() {
	if p == nil || !p.closed.CompareAndSwap(false, true) {
		return
	}
	p.cancel()
	p.wg.Wait()
	p.mu.Lock()
	if p.table != nil {
		p.table.release()
	}
	p.table, p.tracking = nil, false
	p.deleted, p.frozenDeleted, p.puts, p.frozenPuts = nil, nil, nil, nil
	p.mu.Unlock()
	for {
		select {
		case r := <-p.readers:
			_ = r.Close()
		default:
			return
		}
	}
}

// statsNow reports the presence table's state.
func (p *presence) statsNow() PresenceStats {
	if p == nil {
		return PresenceStats{}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	st := PresenceStats{
		Ready:     p.table != nil,
		Delta:     p.changesLocked(),
		Builds:    p.stats.builds,
		Errors:    p.stats.buildErrors,
		Drops:     p.stats.drops,
		LastBuild: p.stats.lastBuild,
		Answered:  p.stats.answered,
		Reads:     p.stats.reads,
		Confirmed: p.stats.confirmed,
	}
	if p.table != nil {
		st.Entries, st.Memory = p.table.entries, p.table.memory()
	}
	st.Ring = p.ring.Load()
	return st
}
