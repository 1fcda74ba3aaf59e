package erasure

import (
	"context"
	"sync"
	"time"
)

// DefaultHedgeAfter is how long a range read waits for a data shard before
// it also rebuilds the piece from k other shards (SPEC.md §9.9). A store
// that stops answering without refusing (an S3 endpoint behind a
// partition that drops packets, an overloaded disk) would otherwise hold
// every read of its shards for the client's timeouts and retries. Healthy
// reads of a chunk's range take milliseconds, so a hedge is rare and
// costs k reads of one piece when it happens.
const DefaultHedgeAfter = 2 * time.Second

// readSpan reads piece i of the range from its data shard into r.parts[i].
// If the shard has not answered after the coder's hedgeAfter, it also
// rebuilds the piece from the same bytes of k other shards and takes
// whichever succeeds first. A hedge that wins marks the slow store
// unreachable, so the reads after it go around the store at once until a
// probe finds it answering (UnreachableFor). It reports whether the piece
// was filled.
func (r *rangeRead) readSpan(ctx context.Context, i int) bool {
	s := r.spans[i]
	if r.c.hedgeAfter < 0 {
		ok, _ := r.readAt(ctx, s.Index, s.ObjectOffset(), r.parts[i])
		return ok
	}
	// One context for both reads: whichever succeeds first ends the other.
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The hedge runs on the timer's goroutine, so a read that answers in
	// time costs a timer and no goroutine.
	h := &hedgeRun{}
	h.wg.Add(1)
	timer := time.AfterFunc(r.c.hedgeAfter, func() {
		defer h.wg.Done()
		h.buf = make([]byte, s.Length)
		if h.ok, _ = r.rebuildSpan(rctx, s, h.buf, true); h.ok {
			cancel()
		}
	})
	ok, reason := r.readAt(rctx, s.Index, s.ObjectOffset(), r.parts[i])
	if timer.Stop() {
		return ok // answered before the hedge started
	}
	if ok {
		cancel()
	}
	h.wg.Wait()
	if ok || !h.ok {
		return ok
	}
	// The read has returned, so nothing writes r.parts[i] any more.
	copy(r.parts[i], h.buf)
	if reason == "" && ctx.Err() == nil {
		r.slow(s.Index) // it did not fail: the hedge cancelled it
	}
	return true
}

// hedgeRun is a hedge's outcome, set on the timer's goroutine before wg is
// done.
type hedgeRun struct {
	wg  sync.WaitGroup
	buf []byte
	ok  bool
}

// HedgeAfter is how long reads wait for a store before they also ask
// others (Options.HedgeAfter); negative when they never hedge.
func (c *Coder) HedgeAfter() time.Duration { return c.hedgeAfter }

// ReadsGoAround reports whether reads currently read around store id: a
// read found it unavailable or slow less than UnreachableFor ago, or its
// probe has not succeeded since. Reads of objects kept outside packs (a
// snapshot's header and references) ask such a store last.
func (c *Coder) ReadsGoAround(id uint16) bool { return c.reach.unreachable(id, c.probe(id)) }

// SlowRead records that a read from store id did not answer within
// HedgeAfter while another store did: reads go around it from now on.
func (c *Coder) SlowRead(id uint16) {
	if c.reach.markUnreachable(id) {
		c.log.Warn("erasure: store slow to answer reads; reads rebuild its shards from the others",
			"store", id, "waited", c.hedgeAfter.String(), "retry_after", UnreachableFor.String())
	}
}

// slow records that shard i's store did not answer a read within
// hedgeAfter while k others did: reads go around it from now on, as
// around a store found unavailable.
func (r *rangeRead) slow(i int) { r.c.SlowRead(r.placement[i]) }
