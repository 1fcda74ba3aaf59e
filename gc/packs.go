package gc

import (
	"context"
	"errors"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/repo"
)

// packs deletes the packs no entry points into and repacks the sparse ones
// (SPEC.md §13.8). It runs after the seal, without the guard: from then on
// the entries of these packs only move (repack) and no new one points
// into them, because writers only index chunks of packs they create.
func (m *marker) packsPhase(ctx context.Context) error {
	lockedNow, err := m.locksAddedSinceMark()
	if err != nil {
		return err
	}
	var empty, sparse []format.ID
	for i := range m.packs {
		p := &m.packs[i]
		m.rep.Packs++
		switch {
		case !p.oldEnough:
			m.rep.PacksKept++
		case p.retain.After(m.now):
			m.rep.PacksRetained++
		case p.entries == 0:
			empty = append(empty, p.id)
		case m.opts.RepackBelow < 0 || float64(p.bytes) >= m.opts.RepackBelow*float64(p.length):
			m.rep.PacksKept++
		case p.locked || lockedNow:
			m.rep.PacksLocked++
		default:
			sparse = append(sparse, p.id)
		}
	}
	m.opts.step("packs: planned")
	if m.opts.DryRun {
		m.planOnly(empty, sparse)
		return nil
	}
	for i, id := range empty {
		n, err := m.r.DeletePack(ctx, m.repoID, id, m.now)
		switch {
		case errors.Is(err, repo.ErrRetained):
			m.rep.PacksRetained++
			continue
		case err != nil && ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			m.opts.Log.Warn("gc: pack deleted from the index, shards left for the orphan sweep", "pack", id.Short(), "err", err)
		}
		if n > 0 {
			m.rep.PacksDeleted++
			m.freed(m.pack(id), n)
		}
		m.opts.progress("packs", int64(i+1), int64(len(empty)+len(sparse)))
	}
	m.opts.step("packs: empty deleted")
	if len(sparse) == 0 {
		return nil
	}
	res, err := m.r.Repack(ctx, m.repoID, sparse, 0, m.now)
	m.rep.PacksRepacked += res.PacksRepacked
	m.rep.PacksWritten += res.PacksWritten
	m.rep.PacksRetained += res.Skipped
	m.rep.ChunksMoved += res.ChunksMoved
	m.rep.BytesRewritten += res.BytesWritten
	m.rep.BytesFreed += res.BytesFreed - res.BytesWritten
	m.rep.StoredBytesFreed += storedSize(res.BytesFreed, m.packs) - storedOf(res.BytesWritten, m.r)
	m.opts.step("packs: repacked")
	return err
}

// planOnly fills the report with what packsPhase would do.
func (m *marker) planOnly(empty, sparse []format.ID) {
	for _, id := range empty {
		p := m.pack(id)
		m.rep.PacksDeleted++
		m.freed(p, p.length)
	}
	for _, id := range sparse {
		p := m.pack(id)
		m.rep.PacksRepacked++
		m.rep.BytesRewritten += p.bytes
		m.freed(p, p.length)
		m.rep.BytesFreed -= p.bytes
		m.rep.StoredBytesFreed -= storedOf(p.bytes, m.r)
	}
}

func (m *marker) pack(id format.ID) *packInfo { return &m.packs[m.ord[id]] }

func (m *marker) freed(p *packInfo, n int64) {
	m.rep.BytesFreed += n
	m.rep.StoredBytesFreed += shardBytes(n, p.k, p.m)
}

// locksAddedSinceMark reports whether a snapshot got an unexpired lock
// after mark. Mark only knows which packs hold chunks of the snapshots
// locked then; rather than re-marking, such a run does not repack at all.
func (m *marker) locksAddedSinceMark() (bool, error) {
	added := false
	err := m.r.Index().Locks(m.repoID, func(snap format.ID, l indexkey.LockRecord) error {
		if l.Until.After(m.now) && !m.locked[snap] {
			added = true
			return errStop
		}
		return nil
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	return added, err
}

// shardBytes is what a pack of n bytes occupies on the stores: k+m shard
// objects of a 96-byte header and ceil(n/k) rounded up to 64 bytes
// (SPEC.md §9.1, §9.3).
func shardBytes(n int64, k, m int) int64 {
	if n <= 0 || k <= 0 {
		return 0
	}
	s := (n + int64(k) - 1) / int64(k)
	s = (s + 63) / 64 * 64
	return int64(k+m) * (s + 96)
}

// storedOf estimates the stored size of n new pack bytes in the engine's
// current layout.
func storedOf(n int64, r *repo.Repo) int64 {
	l := r.Layout()
	return shardBytes(n, l.K, l.M)
}

// storedSize estimates the stored size of n old pack bytes, in the layout
// most packs have.
func storedSize(n int64, packs []packInfo) int64 {
	if len(packs) == 0 {
		return 0
	}
	return shardBytes(n, packs[0].k, packs[0].m)
}
