package erasure

import (
	"bytes"
	"context"
	"errors"
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
// puts each, with its header, to a store, and returns where each went for
// the index. It returns nil only when every one of the k+m shards was put,
// that is when every shard is durable: the caller may then, and only then,
// commit the pack to the index (SPEC.md §9.8).
//
// Shards go to the stores Place chose. A shard whose put fails (or whose
// store failed a put within StoreRetryAfter) goes to another store instead:
// the one holding the fewest shards of the pack, as long as no store then
// holds more than max(m, ⌈(k+m)/n⌉) of them, so the pack still survives the
// loss of any one store. Each such shard is reported to OnRedirect, and a
// store's first failure and its return are logged.
//
// When a shard finds no store, or the context ends, it cancels the Puts still
// running, deletes every shard of the pack from every store a put went to
// (best effort; what a failed delete leaves behind is an orphan that garbage
// collection removes) and returns the error, naming the shard index and
// store. Because of that cleanup, the caller must never rewrite a pack the
// index already holds: a failed rewrite would delete its shards.
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
	p := c.newPlacer(packID)
	st := c.newStragglers()
	packLen := int64(len(pack))

	putCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		firstErr error
	)
	c.forEach(putCtx, len(shards), func(ctx context.Context, i int) {
		err := c.putRedirecting(ctx, repo, packID, packLen, p, st, i, shards[i])
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
	placement, tried := p.result()
	if firstErr != nil {
		c.cleanup(ctx, repo, packID, tried)
		return nil, firstErr
	}
	return placement, nil
}

// putRedirecting puts shard i to its first store and, while puts fail for
// the store's sake (the context is still live), to the next store the placer
// offers. Its error names the shard and the last store tried.
func (c *Coder) putRedirecting(ctx context.Context, repo string, packID format.ID, packLen int64, p *placer, st *stragglers, i int, data []byte) error {
	to := p.first(i)
	if to != p.home[i] {
		c.redirected(repo, packID, i, p.home[i], to)
	}
	for {
		actx, end := st.begin(ctx)
		err := c.putShard(actx, repo, packID, packLen, to, i, data)
		end(err == nil)
		if errors.Is(context.Cause(actx), errStraggler) && ctx.Err() == nil {
			err = fmt.Errorf("shard %d on store %d: %w", i, to, errStraggler)
		}
		if err == nil {
			c.PutSucceeded(to)
			return nil
		}
		if ctx.Err() != nil {
			return err // cancelled: no store's fault
		}
		c.PutFailed(to, err)
		next, ok := p.redirect(i, to)
		if !ok {
			return fmt.Errorf("%w (no other store can take it)", err)
		}
		c.redirected(repo, packID, i, p.home[i], next)
		to = next
	}
}

// redirected reports shard i of a pack going to store to instead of from.
func (c *Coder) redirected(repo string, packID format.ID, i int, from, to uint16) {
	if c.onRedir != nil {
		c.onRedir(Redirect{Repo: repo, Pack: packID, Shard: i, From: from, To: to})
	}
}

// putShard writes shard i with its header to store. Its error names the
// shard and store; the caller adds the operation and pack.
func (c *Coder) putShard(ctx context.Context, repo string, packID format.ID, packLen int64, store uint16, i int, data []byte) error {
	wrap := func(err error) error {
		return fmt.Errorf("shard %d on store %d: %w", i, store, err)
	}
	b, err := c.store(store)
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
func (c *Coder) cleanup(ctx context.Context, repo string, packID format.ID, tried [][]uint16) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	// One round per attempt: round r deletes shard i from the r-th store a
	// put of it went to.
	var err error
	for r := 0; ; r++ {
		round := make([]uint16, len(tried))
		var idx []int
		for i, stores := range tried {
			if r < len(stores) {
				round[i] = stores[r]
				idx = append(idx, i)
			}
		}
		if len(idx) == 0 {
			break
		}
		if e := c.deleteSome(ctx, repo, packID, round, idx); e != nil && err == nil {
			err = e
		}
	}
	if err != nil {
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
	all := make([]int, len(placement))
	for i := range all {
		all[i] = i
	}
	return c.deleteSome(ctx, repo, packID, placement, all)
}

// deleteSome deletes shard i from store placement[i] for every i in idx.
func (c *Coder) deleteSome(ctx context.Context, repo string, packID format.ID, placement []uint16, idx []int) error {
	errs := make([]error, len(idx))
	c.forEach(ctx, len(idx), func(ctx context.Context, j int) {
		i := idx[j]
		b, err := c.store(placement[i])
		if err == nil {
			err = b.Delete(ctx, backend.Name(shard.ObjectName(repo, packID, i)))
		}
		if err != nil {
			errs[j] = fmt.Errorf("erasure: delete pack %s: shard %d on store %d: %w", packID.Short(), i, placement[i], err)
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
