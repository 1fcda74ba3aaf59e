package erasure

import (
	"context"
	"fmt"
	"sync"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/shard"
	"github.com/holdfast-backup/holdfast/repo/backend"
)

// Redirect is one shard written to another store than its placed one,
// because a put to that store failed or the store is passed over after a
// recent failure (SPEC.md §9.8). The pack is then less protected against
// store failures than the layout promises until the store returns and the
// shard is written there again.
type Redirect struct {
	Repo  string
	Pack  format.ID
	Shard int
	From  uint16 // the store Place chose
	To    uint16 // the store that got the shard
}

// placer tracks where the shards of one pack write go. Shards start on the
// stores Place chose; a shard whose store fails moves to the healthy store
// that holds the fewest shards of the pack, but never to one that would then
// hold more than limit of them.
type placer struct {
	c         *Coder
	mu        sync.Mutex
	home      []uint16        // Place's choice
	placement []uint16        // where each shard is (being) written
	tried     [][]uint16      // per shard, every store a put went to
	failed    map[uint16]bool // stores that failed a put of this pack
	start     int             // ring position of shard 0's store
}

func (c *Coder) newPlacer(packID format.ID) *placer {
	home := c.Place(packID)
	p := &placer{
		c:         c,
		home:      home,
		placement: append([]uint16(nil), home...),
		tried:     make([][]uint16, len(home)),
		failed:    map[uint16]bool{},
		start:     c.ringStart(packID),
	}
	return p
}

// limit is the most shards of one pack a redirect may leave on one store:
// m, so that the pack still survives the loss of any one store, or what
// the layout itself puts there when there are fewer stores than shards.
func (c *Coder) limit() int {
	n := len(c.stores)
	return max(c.m, (c.k+c.m+n-1)/n)
}

// first returns the store to write shard i to first: its placed store,
// unless writes pass that store over (health) and another can take it.
func (p *placer) first(i int) uint16 {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.home[i]
	if p.c.health.isDown(s) {
		if to, ok := p.pickLocked(i, true); ok {
			p.placement[i] = to
			s = to
		}
	}
	p.tried[i] = append(p.tried[i], s)
	return s
}

// redirect records that the put of shard i to store from failed and
// returns the next store to try, or false when no store can take it.
func (p *placer) redirect(i int, from uint16) (uint16, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failed[from] = true
	to, ok := p.pickLocked(i, true)
	if !ok {
		// Every healthy store is full up with this pack's shards or
		// failed: try the stores other writes passed over, whose
		// failure may be over.
		to, ok = p.pickLocked(i, false)
	}
	if !ok {
		return 0, false
	}
	p.placement[i] = to
	p.tried[i] = append(p.tried[i], to)
	return to, true
}

// pickLocked chooses a store for shard i among those that did not fail
// this write (and, with healthyOnly, are not passed over): the one holding
// the fewest other shards of the pack, below limit; ties go to the first in
// ring order after the pack's own stores, so that redirected shards spread.
func (p *placer) pickLocked(i int, healthyOnly bool) (uint16, bool) {
	counts := map[uint16]int{}
	for j, s := range p.placement {
		if j != i {
			counts[s]++
		}
	}
	n := len(p.c.stores)
	best, bestCount := uint16(0), p.c.limit()
	for j := range n {
		s := p.c.stores[(p.start+len(p.home)+j)%n].ID
		if p.failed[s] || (healthyOnly && p.c.health.isDown(s)) {
			continue
		}
		if counts[s] < bestCount {
			best, bestCount = s, counts[s]
		}
	}
	return best, bestCount < p.c.limit()
}

// result returns the placement written and every (shard, store) a put went
// to, for the index and for a cleanup.
func (p *placer) result() (placement []uint16, tried [][]uint16) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]uint16(nil), p.placement...), p.tried
}

// ReadShard reads shard i of a pack from the store placement names and
// checks it whole (size, header, hash), as scrub does before it moves a
// redirected shard back to the store Place chose (PutShard).
func (c *Coder) ReadShard(ctx context.Context, repo string, packID format.ID, packLen int64, placement []uint16, i int) ([]byte, error) {
	op, err := c.newOp(repo, packID, packLen, placement)
	if err != nil {
		return nil, fmt.Errorf("erasure: read shard %d of pack %s: %w", i, packID.Short(), err)
	}
	data, reason, err := op.whole(ctx, i)
	switch {
	case err != nil:
		return nil, fmt.Errorf("erasure: read shard %d of pack %s: %w", i, packID.Short(), err)
	case reason != "":
		return nil, fmt.Errorf("erasure: read shard %d of pack %s: %w: the copy on store %d is %s", i, packID.Short(), format.ErrCorrupt, placement[i], reason)
	}
	return data, nil
}

// PutShard puts shard i of a pack, data as ReadShard returned it, on store
// to. The object is byte-for-byte what a write to that store would have
// made. The caller records the new place in the index and only then
// deletes the old copy (DeleteShard).
func (c *Coder) PutShard(ctx context.Context, repo string, packID format.ID, packLen int64, i int, to uint16, data []byte) error {
	if err := c.putShard(ctx, repo, packID, packLen, to, i, data); err != nil {
		return fmt.Errorf("erasure: write pack %s: %w", packID.Short(), err)
	}
	return nil
}

// DeleteShard deletes shard i of a pack from store. Deleting what is not
// there is no error.
func (c *Coder) DeleteShard(ctx context.Context, repo string, packID format.ID, i int, store uint16) error {
	b, err := c.store(store)
	if err == nil {
		err = b.Delete(ctx, backend.Name(shard.ObjectName(repo, packID, i)))
	}
	if err != nil {
		return fmt.Errorf("erasure: delete pack %s: shard %d on store %d: %w", packID.Short(), i, store, err)
	}
	return nil
}
