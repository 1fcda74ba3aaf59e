package erasure

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/bits"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/shard"
)

// ReadRange returns the pack bytes [off, off+length) of a pack of packLen
// bytes whose shards lie on placement (as WritePack returned it), after
// verify accepted them. The caller passes a verify that checks exactly
// these bytes, normally pack.VerifyRecord with the record's trailer entry:
//
//	b, err := c.ReadRange(ctx, repo, packID, packLen, placement,
//		int64(e.Offset), int64(e.Length),
//		func(b []byte) error { return pack.VerifyRecord(e, b) })
//
// It never returns bytes that verify rejected. It tries, in order (SPEC.md
// §9.9):
//
//  1. fast: read the range straight from the data shards that hold it;
//  2. degraded: for each piece that failed to read, or for every piece if
//     verify failed, read the same shard-relative bytes from k other shards
//     (parity included) and rebuild just that piece;
//  3. fallback: read whole shards, keep those whose header and BLAKE3 hash
//     check out, and rebuild the range from k of them.
//
// Each damaged shard met on the way is reported (Options.OnDamage and a log
// warning). When fewer than k shards are usable, or even verified shards
// give bytes verify rejects, the error wraps ErrUnrecoverable.
func (c *Coder) ReadRange(ctx context.Context, repo string, packID format.ID, packLen int64, placement []uint16,
	off, length int64, verify func([]byte) error) ([]byte, error) {
	return c.ReadRangeInto(ctx, repo, packID, packLen, placement, off, length, nil, verify)
}

// ReadRangeInto is ReadRange reading into buf when cap(buf) >= length, so
// a caller that reads many ranges can reuse its buffers. The result is
// then buf[:length]; on error buf's content is undefined.
func (c *Coder) ReadRangeInto(ctx context.Context, repo string, packID format.ID, packLen int64, placement []uint16,
	off, length int64, buf []byte, verify func([]byte) error) ([]byte, error) {
	op, err := c.newOp(repo, packID, packLen, placement)
	if err != nil {
		return nil, fmt.Errorf("erasure: read pack %s: %w", packID.Short(), err)
	}
	if verify == nil {
		return nil, fmt.Errorf("erasure: read pack %s: no verify function", packID.Short())
	}
	if off < 0 || length < 1 || off > packLen-length {
		return nil, fmt.Errorf("erasure: read pack %s: [%d, +%d) of %d bytes: %w", packID.Short(), off, length, packLen, ErrRange)
	}
	out := buf[:0]
	if int64(cap(out)) < length {
		out = make([]byte, length)
	}
	skipped := c.skipUnreachable(op)
	b, err := newRangeRead(op, off, length, out).read(ctx, verify)
	if err != nil && skipped && errors.Is(err, ErrUnrecoverable) {
		// The shards on the stores read around are needed after all, and
		// those stores may be back: ask them too.
		op, _ = c.newOp(repo, packID, packLen, placement)
		b, err = newRangeRead(op, off, length, out).read(ctx, verify)
	}
	if err != nil {
		return nil, fmt.Errorf("erasure: read pack %s [%d, +%d): %w", packID.Short(), off, length, err)
	}
	return b, nil
}

// newRangeRead prepares the read of [off, off+length) of op's pack into
// out[:length].
func newRangeRead(op *packOp, off, length int64, out []byte) *rangeRead {
	r := &rangeRead{packOp: op, spans: shard.Locate(off, length, op.size), out: out[:length]}
	r.parts = make([][]byte, len(r.spans))
	pos := int64(0)
	for i, s := range r.spans {
		r.parts[i] = r.out[pos : pos+s.Length : pos+s.Length]
		pos += s.Length
	}
	return r
}

// skipUnreachable marks the shards of op on stores that reads currently go
// around as gone and away (without reporting damage again), as long as k
// shards remain: with fewer, the read must try them all. It reports
// whether it marked any.
func (c *Coder) skipUnreachable(op *packOp) bool {
	if c.reach.marked.Load() == 0 {
		return false
	}
	var skip uint64
	n := 0
	for i, id := range op.placement {
		if c.reach.unreachable(id, c.probe(id)) {
			skip |= 1 << i
			n++
		}
	}
	if n == 0 || len(op.placement)-n < c.k {
		return false
	}
	op.gone.Or(skip)
	op.away.Or(skip)
	return true
}

// probe returns store id's cheap availability check, or nil if it has none.
func (c *Coder) probe(id uint16) func() error {
	if a, ok := c.byID[id].(interface{ Available() error }); ok {
		return a.Available
	}
	return nil
}

// rangeRead is one ReadRange call.
type rangeRead struct {
	*packOp
	spans []shard.Span // the pieces of the range, one per data shard
	out   []byte       // the range
	parts [][]byte     // parts[i] is the piece of out for spans[i]
}

func (r *rangeRead) read(ctx context.Context, verify func([]byte) error) ([]byte, error) {
	// 1. Fast path.
	failed := make([]bool, len(r.spans))
	r.c.forEach(ctx, len(r.spans), func(ctx context.Context, i int) {
		s := r.spans[i]
		if r.isGone(s.Index) { // on a store reads go around (skipUnreachable)
			failed[i] = true
			return
		}
		failed[i] = !r.readSpan(ctx, i)
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	switch {
	case anyTrue(failed):
		// 2a. Degraded, after failed reads: rebuild those pieces from the
		// same bytes of k other shards.
		ok, err := r.rebuildSpans(ctx, failed)
		if err != nil {
			return nil, err
		}
		if ok && verify(r.out) == nil {
			return r.out, nil
		}
	case verify(r.out) == nil:
		return r.out, nil
	default:
		// 2b. Degraded, after verify rejected what the data shards gave:
		// one of them is wrong there. Try each in turn: rebuild its piece
		// from k other shards, keep the other pieces as read. (Rebuilding
		// every piece at once fails when pieces overlap in shard offsets
		// and the bad shard feeds the rebuild of another piece.)
		one := make([]bool, len(r.spans))
		for i, s := range r.spans {
			clear(one)
			one[i] = true
			read := bytes.Clone(r.parts[i])
			ok, err := r.rebuildSpans(ctx, one)
			if err != nil {
				return nil, err
			}
			if ok && verify(r.out) == nil {
				r.report(s.Index, ReasonRecordChecksum, nil)
				return r.out, nil
			}
			copy(r.parts[i], read)
		}
	}

	// 3. Fallback: whole, hash-verified shards.
	return r.fromWholeShards(ctx, verify)
}

// rebuildSpans rebuilds the pieces marked in which, each from k shards
// other than its own. It returns false when some piece could not be read
// from enough shards.
func (r *rangeRead) rebuildSpans(ctx context.Context, which []bool) (bool, error) {
	for i, s := range r.spans {
		if !which[i] {
			continue
		}
		if ok, err := r.rebuildSpan(ctx, s, r.parts[i], false); !ok || err != nil {
			return false, err
		}
	}
	return true, nil
}

// rebuildSpan rebuilds the piece s of data shard s.Index into dst from the
// same shard-relative bytes of k other shards. It returns false when fewer
// than k of them could be read. It asks k shards at a time, data shards
// first, unless eager: then it asks every other shard at once and takes
// the first k to answer, so that one more store that does not answer
// cannot hold it (a hedge, which runs because a store stopped answering).
func (r *rangeRead) rebuildSpan(ctx context.Context, s shard.Span, dst []byte, eager bool) (bool, error) {
	k, m := r.c.k, r.c.m
	cands := r.c.order(func(j int) bool { return j != s.Index && !r.isGone(j) })
	if len(cands) < k {
		return false, nil
	}
	pieces := make([][]byte, k+m)
	gather := r.c.gather
	if eager {
		gather = r.c.gatherFirst
	}
	got, err := gather(ctx, cands, k, func(ctx context.Context, j int) bool {
		buf := make([]byte, s.Length)
		if ok, _ := r.readAt(ctx, j, s.ObjectOffset(), buf); !ok {
			return false
		}
		pieces[j] = buf
		return true
	})
	if err != nil {
		return false, err
	}
	if got < k {
		return false, nil
	}
	// Reed-Solomon works column by column (byte t of every shard is one
	// codeword), so the same sub-range of k shards rebuilds that sub-range
	// of the missing one. The rebuilt piece is written straight into dst.
	pieces[s.Index] = dst[:0:len(dst)]
	required := make([]bool, k)
	required[s.Index] = true
	if err := r.c.enc.ReconstructSome(pieces, required); err != nil {
		return false, fmt.Errorf("rebuild shard %d range: %w", s.Index, err)
	}
	if &pieces[s.Index][0] != &dst[0] {
		copy(dst, pieces[s.Index])
	}
	return true, nil
}

// fromWholeShards reads whole shards until k of them pass their hash check,
// rebuilds the data shards the range needs, and verifies the range.
func (r *rangeRead) fromWholeShards(ctx context.Context, verify func([]byte) error) ([]byte, error) {
	k, m := r.c.k, r.c.m
	shards := make([][]byte, k+m)
	cands := r.c.order(func(j int) bool { return !r.isGone(j) })
	if len(cands) < k {
		return nil, r.unrecoverable(len(cands))
	}
	good, err := r.c.gatherHedged(ctx, r.reachableLast(cands), k,
		func(ctx context.Context, j int) bool {
			data, _, err := r.whole(ctx, j)
			if err != nil || data == nil {
				return false
			}
			shards[j] = data
			return true
		}, r.slow)
	if err != nil {
		return nil, err
	}
	if good < k {
		return nil, r.unrecoverable(good)
	}
	required := make([]bool, k)
	need := false
	for _, s := range r.spans {
		if shards[s.Index] == nil {
			required[s.Index] = true
			need = true
		}
	}
	if need {
		if err := r.c.enc.ReconstructSome(shards, required); err != nil {
			return nil, fmt.Errorf("rebuild data shards: %w", err)
		}
	}
	for i, s := range r.spans {
		copy(r.parts[i], shards[s.Index][s.Offset:s.Offset+s.Length])
	}
	if err := verify(r.out); err != nil {
		clear(r.out)
		return nil, fmt.Errorf("%w: bytes rebuilt from %d verified shards fail verification: %w",
			ErrUnrecoverable, good, errors.Join(err, format.ErrCorrupt))
	}
	return r.out, nil
}

// unrecoverable returns the error for a pack of which at most usable
// shards are usable. It says how many of the others are on unavailable
// stores: the operator's first question is whether bringing a disk back
// would bring the data back.
func (op *packOp) unrecoverable(usable int) error {
	err := fmt.Errorf("%w: only %d of %d shards usable, need %d", ErrUnrecoverable, usable, op.c.k+op.c.m, op.c.k)
	if away := bits.OnesCount64(op.away.Load()); away > 0 {
		err = fmt.Errorf("%w (%d on unavailable stores)", err, away)
	}
	return err
}

func anyTrue(b []bool) bool {
	for _, v := range b {
		if v {
			return true
		}
	}
	return false
}
