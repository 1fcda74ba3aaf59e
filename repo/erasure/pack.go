package erasure

import (
	"context"
	"fmt"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/pack"
	"github.com/holdfast-backup/holdfast/format/shard"
)

// ReadPack returns the whole pack of packLen bytes whose shards lie on
// placement. It reads whole shards, data shards first, until k of them pass
// their header and hash checks, rebuilds the pack from them and checks it
// against packID. Scrub, repack and index rebuilds use it. Damaged shards
// met on the way are reported; with fewer than k usable shards the error
// wraps ErrUnrecoverable.
func (c *Coder) ReadPack(ctx context.Context, repo string, packID format.ID, packLen int64, placement []uint16) ([]byte, error) {
	op, err := c.newOp(repo, packID, packLen, placement)
	if err != nil {
		return nil, fmt.Errorf("erasure: read pack %s: %w", packID.Short(), err)
	}
	shards := make([][]byte, c.k+c.m)
	good, err := c.gatherHedged(ctx, op.reachableLast(c.order(func(int) bool { return true })), c.k,
		func(ctx context.Context, i int) bool {
			data, _, err := op.whole(ctx, i)
			if err != nil || data == nil {
				return false
			}
			shards[i] = data
			return true
		}, func(i int) { c.SlowRead(placement[i]) })
	if err == nil && good < c.k {
		err = op.unrecoverable(good)
	}
	if err == nil {
		var p []byte
		if p, err = op.join(shards); err == nil {
			return p, nil
		}
	}
	return nil, fmt.Errorf("erasure: read pack %s: %w", packID.Short(), err)
}

// join rebuilds the pack from at least k verified shards (nil where absent)
// and checks it against the pack ID. Shards are not modified.
func (op *packOp) join(shards [][]byte) ([]byte, error) {
	p, err := shard.Join(shards, op.c.k, op.c.m, op.packLen)
	if err == nil && pack.IDOf(p) != op.pack {
		err = format.Corruptf("pack rebuilt from verified shards has ID %s", pack.IDOf(p).Short())
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnrecoverable, err)
	}
	return p, nil
}
