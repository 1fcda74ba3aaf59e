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

// wholeHedgeFactor: a whole-shard read (up to 16 MiB) may take this many
// times HedgeAfter before another shard is asked in its place.
const wholeHedgeFactor = 4

// gatherHedged is gather for whole-shard reads: it asks need candidates
// (in order), asks the next one at once when one fails, and also when
// reads are still running after wholeHedgeFactor × HedgeAfter, one more
// per read running then; it returns once need succeeded, after cancelling
// the others and waiting for them to return. A store that stopped
// answering would otherwise hold a scrub, repack or index rebuild for the
// S3 client's timeouts on every pack with a shard there. slow is called
// for each candidate whose read was still running when the hedge fired
// and had not answered when need others had.
func (c *Coder) gatherHedged(parent context.Context, cands []int, need int,
	fetch func(ctx context.Context, i int) bool, slow func(i int)) (int, error) {
	if c.hedgeAfter < 0 {
		return c.gather(parent, cands, need, fetch)
	}
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	type result struct {
		i  int
		ok bool
	}
	results := make(chan result, len(cands))
	running := map[int]bool{} // candidate → hedged for
	next, got := 0, 0
	start := func() {
		if next < len(cands) {
			i := cands[next]
			next++
			running[i] = false
			go func() { results <- result{i, fetch(ctx, i)} }()
		}
	}
	for range min(need, len(cands)) {
		start()
	}
	wait := wholeHedgeFactor * c.hedgeAfter
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for len(running) > 0 && got < need {
		select {
		case res := <-results:
			delete(running, res.i)
			if res.ok {
				got++
			} else {
				start()
			}
		case <-timer.C:
			var late []int
			for i, hedged := range running {
				if !hedged {
					late = append(late, i)
				}
			}
			for _, i := range late {
				running[i] = true
				start()
			}
			timer.Reset(wait)
		}
	}
	cancel()
	for len(running) > 0 {
		res := <-results
		if res.ok {
			got++
		} else if running[res.i] && got >= need {
			slow(res.i)
		}
		delete(running, res.i)
	}
	if got < need {
		return got, parent.Err()
	}
	return got, nil
}

// reachableLast moves the shards of op on stores that reads currently go
// around to the end of cands.
func (op *packOp) reachableLast(cands []int) []int {
	out := make([]int, 0, len(cands))
	var around []int
	for _, i := range cands {
		if id := op.placement[i]; op.c.reach.unreachable(id, op.c.probe(id)) {
			around = append(around, i)
		} else {
			out = append(out, i)
		}
	}
	return append(out, around...)
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
	if c.onSlow != nil {
		c.onSlow(id)
	}
	if c.reach.markUnreachable(id) {
		c.log.Warn("erasure: store slow to answer reads; reads rebuild its shards from the others",
			"store", id, "waited", c.hedgeAfter.String(), "retry_after", UnreachableFor.String())
	}
}

// slow records that shard i's store did not answer a read within
// hedgeAfter while k others did: reads go around it from now on, as
// around a store found unavailable.
func (r *rangeRead) slow(i int) { r.c.SlowRead(r.placement[i]) }
