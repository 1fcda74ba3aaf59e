package erasure

import (
	"context"
	"fmt"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/shard"
)

// PackHealth is what ScrubPack found in one pack's shards.
type PackHealth struct {
	Good        int  // shards whose object, header and data hash check out
	Missing     int  // shards that could not be read: absent, or a read error
	Unavailable int  // shards on an unavailable store: not checked, not rebuilt
	Corrupt     int  // shards read but wrong: size, header or data hash
	Repaired    int  // bad shards rebuilt and put back (repair only)
	Lost        bool // fewer than k good shards: the pack cannot be rebuilt
}

// ScrubPack reads every shard of a pack completely and checks its object
// size, its header (pack ID, index, k, m and pack length as expected) and
// its data hash, reporting each bad shard as Damage. With repair, and at
// least k good shards, it rebuilds every bad shard from the good ones,
// checks that the rebuilt pack has the right ID, and puts each rebuilt
// shard back under its own name on its own store (Put is atomic, so a
// reader sees the bad object or the good one, never a mix).
//
// A lost pack is a result, not an error: the error reports a bad argument,
// the context ending, or a failed repair (the health then says how many
// repairs succeeded).
func (c *Coder) ScrubPack(ctx context.Context, repo string, packID format.ID, packLen int64, placement []uint16, repair bool) (PackHealth, error) {
	op, err := c.newOp(repo, packID, packLen, placement)
	if err != nil {
		return PackHealth{}, fmt.Errorf("erasure: scrub pack %s: %w", packID.Short(), err)
	}
	n := c.k + c.m
	shards := make([][]byte, n)
	reasons := make([]string, n)
	c.forEach(ctx, n, func(ctx context.Context, i int) {
		if probe := c.probe(placement[i]); probe != nil && probe() != nil {
			// The store's own cheap check says it is unavailable (for S3
			// bounded by a short timeout and cached): asking it for the
			// shard would cost the read's timeouts and retries. Counted
			// unavailable, not repaired.
			reasons[i] = ReasonUnavailable
			return
		}
		shards[i], reasons[i], _ = op.whole(ctx, i)
	})
	if err := ctx.Err(); err != nil {
		return PackHealth{}, fmt.Errorf("erasure: scrub pack %s: %w", packID.Short(), err)
	}
	var h PackHealth
	for i := range n {
		switch reasons[i] {
		case "":
			h.Good++
		case ReasonUnavailable:
			h.Unavailable++
		case ReasonMissing, ReasonReadError:
			h.Missing++
		default:
			h.Corrupt++
		}
	}
	h.Lost = h.Good < c.k
	if !repair || h.Lost || h.Good+h.Unavailable == n {
		return h, nil
	}
	return c.repair(ctx, op, shards, reasons, h)
}

// repair rebuilds the nil entries of shards from the others (at least k,
// all verified) and puts them back, except on unavailable stores.
func (c *Coder) repair(ctx context.Context, op *packOp, shards [][]byte, reasons []string, h PackHealth) (PackHealth, error) {
	bad := make([]bool, len(shards))
	for i, s := range shards {
		bad[i] = s == nil && reasons[i] != ReasonUnavailable
	}
	// Rebuild the pack and check its ID before writing anything: the
	// hashes prove each shard is what was written, the ID proves the
	// shards belong together.
	p, err := op.join(shards)
	if err != nil {
		h.Lost = true
		return h, fmt.Errorf("erasure: scrub pack %s: %w", op.pack.Short(), err)
	}
	if shards, err = shard.Split(p, c.k, c.m); err != nil {
		return h, fmt.Errorf("erasure: scrub pack %s: %w", op.pack.Short(), err)
	}
	errs := make([]error, len(shards))
	c.forEach(ctx, len(shards), func(ctx context.Context, i int) {
		if bad[i] {
			errs[i] = c.putShard(ctx, op.repo, op.pack, op.packLen, op.placement[i], i, shards[i])
		}
	})
	var first error
	for i, err := range errs {
		switch {
		case !bad[i]:
		case err == nil:
			h.Repaired++
			c.log.Info("erasure: repaired shard", "repo", op.repo, "pack", op.pack.Short(), "shard", i, "store", op.placement[i])
		case first == nil:
			first = fmt.Errorf("erasure: scrub pack %s: repair %w", op.pack.Short(), err)
		}
	}
	return h, first
}
