package erasure

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/shard"
	"github.com/holdfast-backup/holdfast/repo/backend"
)

// cleanupTimeout bounds the deletes after a failed write; they run even when
// the caller's context is already done.
const cleanupTimeout = time.Minute

// WritePack codes pack (whose ID is packID, pack.IDOf(pack)) into k+m shards,
// puts each, with its header, to the store Place chose, and returns that
// placement for the index. It returns nil only when every one of the k+m
// Puts succeeded, that is when every shard is durable: the caller may then,
// and only then, commit the pack to the index (SPEC.md §9.8).
//
// On any failure it cancels the Puts still running, deletes every shard of
// the pack (best effort; what a failed delete leaves behind is an orphan that
// garbage collection removes) and returns the first error, naming the shard
// index and store. Because of that cleanup, the caller must never rewrite a
// pack the index already holds: a failed rewrite would delete its shards.
//
// The shards are not copied: data shards alias pack, which must not change
// until WritePack returns. If cap(pack) leaves room for the padding and the
// parity (shard.SplitCap), they are written there, after len(pack): the
// caller must own that capacity, or pass pack[:n:n].
func (c *Coder) WritePack(ctx context.Context, repo string, packID format.ID, pack []byte) ([]uint16, error) {
	shards, err := shard.Split(pack, c.k, c.m)
	if err != nil {
		return nil, fmt.Errorf("erasure: write pack %s: %w", packID.Short(), err)
	}
	placement := c.Place(packID)
	packLen := int64(len(pack))

	putCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
	)
	c.forEach(putCtx, len(shards), func(ctx context.Context, i int) {
		err := c.putShard(ctx, repo, packID, packLen, placement, i, shards[i])
		if err == nil {
			return
		}
		mu.Lock()
		if firstErr == nil {
			firstErr = fmt.Errorf("erasure: write pack %s: %w", packID.Short(), err)
			cancel()
		}
		mu.Unlock()
	})
	if firstErr != nil {
		c.cleanup(ctx, repo, packID, placement)
		return nil, firstErr
	}
	return placement, nil
}

// putShard writes shard i with its header to its store. Its error names
// the shard and store; the caller adds the operation and pack.
func (c *Coder) putShard(ctx context.Context, repo string, packID format.ID, packLen int64, placement []uint16, i int, data []byte) error {
	wrap := func(err error) error {
		return fmt.Errorf("shard %d on store %d: %w", i, placement[i], err)
	}
	b, err := c.store(placement[i])
	if err != nil {
		return wrap(err)
	}
	hdr, err := shard.EncodeHeader(shard.NewHeader(packID, packLen, c.k, c.m, i, data))
	if err != nil {
		return wrap(err)
	}
	name := backend.Name(shard.ObjectName(repo, packID, i))
	if err := b.Put(ctx, name, payload{hdr, data}); err != nil {
		return wrap(err)
	}
	return nil
}

// cleanup deletes every shard of a pack whose write failed. Deletes run
// detached from the caller's context (which may be what failed), bounded by
// cleanupTimeout.
func (c *Coder) cleanup(ctx context.Context, repo string, packID format.ID, placement []uint16) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := c.deleteShards(ctx, repo, packID, placement); err != nil {
		c.log.Warn("erasure: failed write left shards behind; garbage collection removes them",
			"repo", repo, "pack", packID.Short(), "err", err.Error())
	}
}

// DeletePack deletes every shard of a pack from the stores placement names.
// Shards that are already gone are fine. It tries every shard and returns
// the first failure, naming the shard and store.
func (c *Coder) DeletePack(ctx context.Context, repo string, packID format.ID, placement []uint16) error {
	if err := c.checkPlacement(placement); err != nil {
		return fmt.Errorf("erasure: delete pack %s: %w", packID.Short(), err)
	}
	return c.deleteShards(ctx, repo, packID, placement)
}

func (c *Coder) deleteShards(ctx context.Context, repo string, packID format.ID, placement []uint16) error {
	errs := make([]error, len(placement))
	c.forEach(ctx, len(placement), func(ctx context.Context, i int) {
		b, err := c.store(placement[i])
		if err == nil {
			err = b.Delete(ctx, backend.Name(shard.ObjectName(repo, packID, i)))
		}
		if err != nil {
			errs[i] = fmt.Errorf("erasure: delete pack %s: shard %d on store %d: %w", packID.Short(), i, placement[i], err)
		}
	})
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// payload is a shard object, header then data, without copying either.
type payload struct{ header, data []byte }

var _ backend.Payload = payload{}

func (p payload) Len() int64 { return int64(len(p.header) + len(p.data)) }

func (p payload) Open() io.Reader {
	return io.MultiReader(bytes.NewReader(p.header), bytes.NewReader(p.data))
}
