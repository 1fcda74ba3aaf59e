package repo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/shard"
	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/index"
)

// Garbage collection's mechanisms live here; the policy (which packs) is in
// package gc. Pack IDs are content hashes, so the same bytes can come back
// as a new pack with the ID of a pack GC is about to delete (the same files
// backed up again in the same order after their snapshot was forgotten).
// So everything that writes, indexes or deletes a pack holds that pack ID's
// lock (lockPacks) from its "is this pack indexed, and what lives in it?"
// check through its last write: a writer landing a pack (writer.go), a
// repack, a pack deletion and an orphan-shard deletion. A landing that finds
// its pack already indexed adds its chunks to that record and raises its
// live count; a deletion re-checks the live count under the lock and keeps
// a pack that has come back to life.

// ErrRetained is returned by DeletePack for a pack whose shards carry an
// object-lock retention that has not expired: the store would refuse the
// delete, so the pack stays and a later GC retries.
var ErrRetained = errors.New("pack is under object-lock retention")

// TempDir is where garbage collection keeps its temporary files: the data
// directory, beside the index, so they are on a disk sized for it.
func (r *Repo) TempDir() string { return r.cfg.DataDir }

// lockPacks locks the pack-ID locks of ids (striped; taken in stripe
// order, so two callers never deadlock) and returns the unlock.
func (r *Repo) lockPacks(ids ...format.ID) (unlock func()) {
	var stripes [len(r.packLocks)]bool
	for _, id := range ids {
		stripes[int(id[0])%len(r.packLocks)] = true
	}
	for i, on := range stripes {
		if on {
			r.packLocks[i].Lock()
		}
	}
	return func() {
		for i, on := range stripes {
			if on {
				r.packLocks[i].Unlock()
			}
		}
	}
}

// withPacks runs fn holding the pack-ID locks of ids.
func (r *Repo) withPacks(fn func() error, ids ...format.ID) error {
	defer r.lockPacks(ids...)()
	return fn()
}

// DeletePack removes a pack that no chunk entry points at: its index record
// first, in a synced batch, then its shards. That order keeps the rule that
// the index never points at missing data; a crash or a failed shard delete
// in between leaves orphan shards, which DeleteOrphanShards removes later.
// The caller guarantees no chunk entry points into the pack (GC counted
// them). A pack whose retention runs past now is not touched (ErrRetained).
// It returns the pack's length; deleting a pack the index no longer has
// returns 0 and no error. A store that refuses a shard delete (object lock:
// backend.ErrPermission) leaves the shard as an orphan and is reported in
// the error, which the caller logs.
func (r *Repo) DeletePack(ctx context.Context, repoID uint32, packID format.ID, now time.Time) (int64, error) {
	name, err := r.repoName(repoID)
	if err != nil {
		return 0, err
	}
	var freed int64
	err = r.withPacks(func() error {
		rec, err := r.idx.GetPack(repoID, packID)
		if errors.Is(err, index.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if rec.LiveCount > 0 {
			// A writer landed the same bytes again since GC looked: the
			// pack is live once more.
			return nil
		}
		if rec.RetainUntil.After(now) {
			return fmt.Errorf("pack %s until %s: %w", packID.Short(), rec.RetainUntil.UTC().Format(time.RFC3339), ErrRetained)
		}
		b := r.idx.NewBatch()
		defer b.Close()
		b.DeletePack(repoID, packID)
		if err := b.Commit(true); err != nil {
			return fmt.Errorf("delete pack %s from the index: %w", packID.Short(), err)
		}
		freed = rec.Length
		if err := r.coder.DeletePack(ctx, name, packID, rec.Stores); err != nil {
			return fmt.Errorf("pack %s left orphan shards: %w", packID.Short(), err)
		}
		return nil
	}, packID)
	return freed, err
}

// Orphans counts shard objects that belong to no indexed pack.
type Orphans struct {
	Shards int   `json:"shards"`
	Bytes  int64 `json:"bytes"`
	Failed int   `json:"failed"` // deletes the store refused (retention) or failed
}

// DeleteOrphanShards deletes the shard objects of repository repoID whose
// pack the index does not know and that were last modified before cutoff
// (left by a crash between writing a pack and committing it, by a failed
// write's cleanup, or by a pack deletion whose shard deletes failed). The
// cutoff is GC's grace: a pack being written right now has young shards.
// Each delete re-checks the index under the pack's lock. With dryRun it
// only counts.
func (r *Repo) DeleteOrphanShards(ctx context.Context, repoID uint32, cutoff time.Time, dryRun bool) (Orphans, error) {
	var out Orphans
	name, err := r.repoName(repoID)
	if err != nil {
		return out, err
	}
	type orphan struct {
		store uint16
		info  backend.Info
		pack  format.ID
	}
	var found []orphan
	known := map[format.ID]bool{}
	for _, sid := range r.order {
		b := r.stores[sid].Backend
		err := b.List(ctx, shard.Prefix(name), func(info backend.Info) error {
			rn, pid, _, err := shard.ParseObjectName(string(info.Name))
			if err != nil || rn != name || !info.ModTime.Before(cutoff) {
				return nil // not a shard name: rebuild-index's business, not ours
			}
			in, ok := known[pid]
			if !ok {
				_, err := r.idx.GetPack(repoID, pid)
				if err != nil && !errors.Is(err, index.ErrNotFound) {
					return err
				}
				in = err == nil
				if in {
					known[pid] = true // absent packs are re-checked: they may appear
				}
			}
			if !in {
				found = append(found, orphan{store: sid, info: info, pack: pid})
			}
			return nil
		})
		if err != nil {
			return out, fmt.Errorf("list shards on store %d: %w", sid, err)
		}
	}
	for _, o := range found {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		if dryRun {
			out.Shards++
			out.Bytes += o.info.Size
			continue
		}
		err := r.withPacks(func() error {
			if _, err := r.idx.GetPack(repoID, o.pack); err == nil {
				return errIndexed
			} else if !errors.Is(err, index.ErrNotFound) {
				return err
			}
			return r.stores[o.store].Backend.Delete(ctx, o.info.Name)
		}, o.pack)
		switch {
		case err == nil:
			out.Shards++
			out.Bytes += o.info.Size
		case errors.Is(err, errIndexed):
		case errors.Is(err, backend.ErrPermission):
			out.Failed++
		default:
			out.Failed++
			r.log.Warn("gc: deleting an orphan shard failed", "store", o.store, "pack", o.pack.Short(), "err", err)
		}
	}
	return out, nil
}

// errIndexed: the pack of a presumed orphan was committed meanwhile.
var errIndexed = errors.New("pack is indexed")
