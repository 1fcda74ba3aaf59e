package erasure

import (
	"context"
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
	pctx, cancelPrimary := context.WithCancel(ctx)
	defer cancelPrimary()
	primary := make(chan bool, 1)
	go func() {
		ok, _ := r.readAt(pctx, s.Index, s.ObjectOffset(), r.parts[i])
		primary <- ok
	}()
	timer := time.NewTimer(r.c.hedgeAfter)
	defer timer.Stop()
	select {
	case ok := <-primary:
		return ok
	case <-timer.C:
	}

	hedged := make([]byte, s.Length)
	hctx, cancelHedge := context.WithCancel(ctx)
	defer cancelHedge()
	hedge := make(chan bool, 1)
	go func() {
		ok, _ := r.rebuildSpan(hctx, s, hedged, true)
		hedge <- ok
	}()
	select {
	case ok := <-primary:
		if ok {
			cancelHedge()
			<-hedge
			return true
		}
		if !<-hedge {
			return false
		}
	case ok := <-hedge:
		if !ok {
			return <-primary
		}
		// The primary writes into r.parts[i]: it must have stopped
		// before the rebuilt piece goes there. A store read that honours
		// its context (S3, the local store between its reads) stops at
		// once.
		cancelPrimary()
		if <-primary {
			return true // it finished first after all
		}
		r.slow(s.Index)
	}
	copy(r.parts[i], hedged)
	return true
}

// slow records that shard i's store did not answer a read within
// hedgeAfter while k others did: reads go around it from now on, as
// around a store found unavailable.
func (r *rangeRead) slow(i int) {
	id := r.placement[i]
	if r.c.reach.markUnreachable(id) {
		r.c.log.Warn("erasure: store slow to answer reads; reads rebuild its shards from the others",
			"store", id, "waited", r.c.hedgeAfter.String(), "retry_after", UnreachableFor.String())
	}
}
