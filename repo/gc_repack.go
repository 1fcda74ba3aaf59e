package repo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/format/pack"
	"github.com/holdfast-backup/holdfast/repo/index"
)

// RepackResult counts what Repack did.
type RepackResult struct {
	PacksRepacked int   // old packs whose live chunks moved and that were deleted
	PacksWritten  int   // new packs
	ChunksMoved   int   // chunk entries now pointing at a new pack
	BytesWritten  int64 // length of the new packs
	BytesFreed    int64 // length of the old packs deleted
	Skipped       int   // old packs left alone (retention, unreadable, vanished)
}

// Repack moves the chunks that the index still locates in the given packs
// into new packs, written through the normal pack and erasure path, and
// then deletes the old packs (SPEC.md §13.8). For each new pack:
//
//  1. the old packs are read whole and verified (erasure.ReadPack checks
//     the pack ID), and a record is kept only if its chunk's index entry
//     still points at exactly that record;
//  2. the new pack is built, parsed back and its shards written;
//  3. one synced batch points each entry at the new pack, but only if it
//     still points at the old record, records the new pack, and zeroes the
//     old packs' live counts;
//  4. the old packs are deleted, index record first (DeletePack).
//
// Steps 2 and 3 hold the pack-ID locks of the new and the old packs
// (lockPacks), like a writer landing a pack.
// A crash before 3 leaves orphan shards of the new pack; between 3 and 4,
// old packs that no entry points at, which the next GC deletes. Readers that
// looked up an old location before 3 retry at the new one (ReadChunk).
// An old pack is never split across two new packs, so after step 3 every
// old pack in the batch is wholly moved. target is the new packs' size
// (0: the engine's pack target); now is compared with retention dates.
func (r *Repo) Repack(ctx context.Context, repoID uint32, packs []format.ID, target int, now time.Time) (RepackResult, error) {
	var res RepackResult
	name, err := r.repoName(repoID)
	if err != nil {
		return res, err
	}
	if target <= 0 {
		target = r.cfg.PackTarget
	}
	rp := &repacker{r: r, repoID: repoID, name: name, now: now, res: &res, b: pack.NewBuilder()}
	for _, p := range packs {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		recs, err := rp.liveRecords(ctx, p)
		if err != nil {
			return res, err
		}
		if recs == nil {
			res.Skipped++
			continue
		}
		size := 0
		for _, rc := range recs {
			size += len(rc.data) + pack.EntrySize
		}
		if rp.b.Count() > 0 && rp.b.Len()+size > target {
			if err := rp.flush(ctx); err != nil {
				return res, err
			}
		}
		for _, rc := range recs {
			if err := rp.b.Add(rc.e.ID, rc.data); err != nil {
				return res, fmt.Errorf("repack: %w", err)
			}
			rp.moves = append(rp.moves, move{id: rc.e.ID, from: p, off: rc.e.Offset})
		}
		rp.old = append(rp.old, p)
	}
	return res, rp.flush(ctx)
}

type repacker struct {
	r      *Repo
	repoID uint32
	name   string
	now    time.Time
	res    *RepackResult
	b      *pack.Builder
	moves  []move      // records in b, in order
	old    []format.ID // packs whose live records are all in b
}

type move struct {
	id   format.ID
	from format.ID
	off  uint64
}

type record struct {
	e    pack.Entry
	data []byte
}

// liveRecords reads pack p and returns the records whose index entry still
// points at them; nil (no error) if the pack is to be left alone. A pack
// with no live record is still returned as an empty, non-nil slice so that
// it is deleted with the batch.
func (rp *repacker) liveRecords(ctx context.Context, p format.ID) ([]record, error) {
	r := rp.r
	rec, err := r.idx.GetPack(rp.repoID, p)
	if errors.Is(err, index.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if rec.RetainUntil.After(rp.now) {
		return nil, nil
	}
	data, err := r.coder.ReadPack(ctx, rp.name, p, rec.Length, rec.Stores)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		r.log.Warn("gc: pack not repacked: unreadable", "pack", p.Short(), "err", err)
		return nil, nil
	}
	entries, err := pack.Parse(data)
	if err != nil {
		r.log.Warn("gc: pack not repacked: does not parse", "pack", p.Short(), "err", err)
		return nil, nil
	}
	out := []record{}
	for _, e := range entries {
		loc, err := r.idx.GetChunk(rp.repoID, e.ID)
		if errors.Is(err, index.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if loc.Pack == p && loc.Offset == e.Offset {
			out = append(out, record{e: e, data: data[e.Offset:e.End()]})
		}
	}
	return out, nil
}

// flush writes the builder's pack, moves the entries and deletes the old
// packs.
func (rp *repacker) flush(ctx context.Context) error {
	defer func() {
		rp.b.Reset()
		rp.moves, rp.old = rp.moves[:0], rp.old[:0]
	}()
	if rp.b.Count() > 0 {
		err := rp.writeAndCommit(ctx)
		if errors.Is(err, errRetainedMeanwhile) {
			// Nothing was written or moved; the batch waits for a GC
			// after the retention ends.
			rp.r.log.Info("gc: packs not repacked: a lock retained one of them meanwhile", "packs", len(rp.old))
			rp.res.Skipped += len(rp.old)
			return nil
		}
		if err != nil {
			return err
		}
	}
	for _, p := range rp.old {
		n, err := rp.r.DeletePack(ctx, rp.repoID, p, rp.now)
		rp.res.BytesFreed += n
		if n > 0 {
			rp.res.PacksRepacked++
		}
		if err != nil {
			rp.r.log.Warn("gc: repacked pack not fully deleted", "pack", p.Short(), "err", err)
		}
	}
	return nil
}

func (rp *repacker) writeAndCommit(ctx context.Context) error {
	r := rp.r
	data, newID, entries, err := rp.b.Finish()
	if err != nil {
		return fmt.Errorf("repack: seal pack: %w", err)
	}
	if _, err := pack.Parse(data); err != nil {
		return fmt.Errorf("repack: pack %s failed verification before upload: %w", newID.Short(), err)
	}
	if testHookRepackBeforeLock != nil {
		testHookRepackBeforeLock()
	}
	return r.withPacks(func() error {
		if err := rp.checkNotRetained(); err != nil {
			return err
		}
		prec, err := r.idx.GetPack(rp.repoID, newID)
		exists := err == nil
		if err != nil && !errors.Is(err, index.ErrNotFound) {
			return err
		}
		if !exists {
			placement, err := r.coder.WritePack(ctx, rp.name, newID, data)
			if err != nil {
				return fmt.Errorf("repack: write pack %s: %w", newID.Short(), err)
			}
			// Created is the wall clock, like a writer's pack, not the
			// caller's (possibly shifted) decision clock.
			prec = indexkey.PackRecord{Length: int64(len(data)), K: r.coder.K(), M: r.coder.M(), Stores: placement, Created: time.Now()}
			rp.res.PacksWritten++
			rp.res.BytesWritten += int64(len(data))
		}
		b := r.idx.NewBatch()
		defer b.Close()
		moved := map[format.ID][]uint32{}
		for i, e := range entries {
			mv := rp.moves[i]
			loc, err := r.idx.GetChunk(rp.repoID, mv.id)
			if errors.Is(err, index.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if loc.Pack != mv.from || loc.Offset != mv.off {
				continue
			}
			b.PutChunk(rp.repoID, e.ID, indexkey.ChunkLoc{Pack: newID, Offset: e.Offset, Length: e.Length, Checksum: e.Checksum})
			moved[mv.from] = append(moved[mv.from], e.Length)
			prec.LiveBytes += uint64(e.Length)
			prec.LiveCount++
			rp.res.ChunksMoved++
		}
		b.PutPack(rp.repoID, newID, prec)
		rp.subtractMoved(b, moved)
		if err := b.Commit(true); err != nil {
			return fmt.Errorf("repack: commit pack %s: %w", newID.Short(), err)
		}
		r.repacks.Add(1)
		return nil
	}, append([]format.ID{newID}, rp.old...)...)
}

// testHookRepackBeforeLock, when set by a test, runs after a repack has
// read its old packs and before it takes their locks.
var testHookRepackBeforeLock func()

// errRetainedMeanwhile stops a repack batch whose old packs a snapshot
// lock retained after liveRecords checked them.
var errRetainedMeanwhile = errors.New("an old pack was retained meanwhile")

// checkNotRetained re-reads the old packs' records under their locks. A
// lock set since liveRecords looked has retained their shards on the
// stores; moving the chunks would put them in a new pack without that
// retention, so the batch is abandoned instead (SPEC.md §13.8).
func (rp *repacker) checkNotRetained() error {
	for _, p := range rp.old {
		rec, err := rp.r.idx.GetPack(rp.repoID, p)
		if errors.Is(err, index.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if rec.RetainUntil.After(rp.now) {
			return errRetainedMeanwhile
		}
	}
	return nil
}

// subtractMoved takes the moved entries off the old packs' live counts.
// Normally that leaves them at zero; a pack whose bytes a writer landed
// again meanwhile keeps the count of its new entries, and DeletePack then
// leaves it alone.
func (rp *repacker) subtractMoved(b *index.Batch, moved map[format.ID][]uint32) {
	for _, p := range rp.old {
		rec, err := rp.r.idx.GetPack(rp.repoID, p)
		if err != nil {
			continue
		}
		for _, n := range moved[p] {
			rec.LiveBytes -= min(rec.LiveBytes, uint64(n))
			rec.LiveCount -= min(rec.LiveCount, 1)
		}
		b.PutPack(rp.repoID, p, rec)
	}
}
