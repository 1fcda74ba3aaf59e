package repo

import (
	"context"
	"errors"
	"time"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/repo/index"
)

// rehome moves the shards of a pack that a write put around a failed
// store (SPEC.md §9.8) back to the stores Place chooses for it, where those
// take writes again: read (checked whole), put, record the move in the
// index, delete the old copy. It runs in scrub with repair, after the
// pack's shards were checked and repaired. A store that refuses a put is
// not asked again in this scrub (refused). A pack under retention is left
// where it is: its old copies cannot be deleted before the retention ends,
// and the new ones would not carry it. It returns how many shards moved.
func (r *Repo) rehome(ctx context.Context, name string, repoID uint32, id format.ID, rec indexkey.PackRecord, refused map[uint16]bool) int {
	if rec.RetainUntil.After(time.Now()) {
		return 0
	}
	home := r.coder.Place(id)
	if len(home) != len(rec.Stores) {
		return 0 // written under another layout: Place says nothing about it
	}
	moved := 0
	for i, to := range home {
		from := rec.Stores[i]
		if from == to || refused[to] {
			continue
		}
		data, err := r.coder.ReadShard(ctx, name, id, rec.Length, rec.Stores, i)
		if err != nil {
			r.log.Warn("shard not moved home: its copy does not read", "repo", name, "pack", id.Short(), "shard", i, "err", err.Error())
			continue
		}
		if err := r.coder.PutShard(ctx, name, id, rec.Length, i, to, data); err != nil {
			r.log.Info("store still refuses writes; shards placed around it stay", "store", to, "err", err.Error())
			refused[to] = true
			continue
		}
		ok, err := r.recordMove(repoID, id, i, from, to)
		if err != nil {
			// The copy on the home store is the same bytes as the one the
			// index names: an extra copy, which nothing reads.
			r.log.Warn("could not record a shard moved home", "repo", name, "pack", id.Short(), "shard", i, "err", err.Error())
		}
		if !ok {
			continue
		}
		rec.Stores[i] = to
		moved++
		if err := r.coder.DeleteShard(ctx, name, id, i, from); err != nil {
			r.log.Warn("shard moved home; its old copy stays", "repo", name, "pack", id.Short(), "shard", i, "store", from, "err", err.Error())
		}
	}
	return moved
}

// recordMove points shard i of a pack at store to in the index, if it is
// still on store from (GC may have repacked or deleted the pack, or another
// scrub moved it meanwhile). It holds the GC guard and the pack's lock, like
// every other read-modify-write of a pack record, and syncs: the old copy
// is deleted next.
func (r *Repo) recordMove(repoID uint32, id format.ID, i int, from, to uint16) (bool, error) {
	defer r.GCShared(repoID)()
	moved := false
	err := r.withPacks(func() error {
		rec, err := r.idx.GetPack(repoID, id)
		if errors.Is(err, index.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if i >= len(rec.Stores) || rec.Stores[i] != from {
			return nil
		}
		rec.Stores[i] = to
		b := r.idx.NewBatch()
		defer b.Close()
		b.PutPack(repoID, id, rec)
		if err := b.Commit(true); err != nil {
			return err
		}
		moved = true
		return nil
	}, id)
	return moved, err
}
