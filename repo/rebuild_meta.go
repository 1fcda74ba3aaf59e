package repo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/format/lockfile"
	"github.com/holdfast-backup/holdfast/format/snapshot"
	"github.com/holdfast-backup/holdfast/repo/backend"
)

// rebuildKeyFiles indexes every key file whose content hashes to its name.
func (r *Repo) rebuildKeyFiles(ctx context.Context, name string, repoID uint32, f *found, rep *RebuildReport) error {
	b := r.idx.NewBatch()
	defer b.Close()
	for id, stores := range f.keyFiles {
		blob, err := r.readAnyCopy(ctx, keyFileObject(name, id), stores, matchesID(id))
		if err != nil {
			r.log.Error("key file skipped", "repo", name, "key", id.Short(), "err", err)
			continue
		}
		b.PutKeyFile(repoID, id, blob)
		rep.KeyFiles++
	}
	return b.Commit(true)
}

func matchesID(id format.ID) func([]byte) error {
	return func(b []byte) error {
		if format.ID(blake3.Sum256(b)) != id {
			return format.Corruptf("content does not hash to its name")
		}
		return nil
	}
}

// rebuildSnapshots indexes every snapshot whose header hashes to its ID and
// whose reference list verifies, and counts those that reference chunks no
// readable pack holds.
func (r *Repo) rebuildSnapshots(ctx context.Context, name string, repoID uint32, f *found, rep *RebuildReport) error {
	for id, stores := range f.headers {
		header, err := r.readAnyCopy(ctx, headerObject(name, id), stores, matchesID(id))
		if err == nil {
			_, err = snapshot.Decode(header)
		}
		if err != nil {
			r.log.Error("snapshot skipped: header unreadable", "repo", name, "snapshot", id.Short(), "err", err)
			continue
		}
		refsName := refsObject(name, id)
		var refsBytes []byte
		refsBytes, err = r.readAnyCopy(ctx, refsName, f.refs[id], checkRefList)
		if err != nil {
			r.log.Error("snapshot skipped: reference list unreadable", "repo", name, "snapshot", id.Short(), "err", err)
			continue
		}
		missing, err := r.countMissing(repoID, refsBytes)
		if err != nil {
			return err
		}
		if missing > 0 {
			rep.Incomplete++
			r.log.Error("snapshot references chunks no readable pack holds", "repo", name, "snapshot", id.Short(), "missing", missing)
		}
		b := r.idx.NewBatch()
		b.PutSnapshot(repoID, id, indexkey.SnapshotRecord{
			Header:    indexkey.ObjectRef{Inline: header},
			Refs:      indexkey.ObjectRef{Name: refsName, Size: uint64(len(refsBytes)), Hash: blake3.Sum256(refsBytes), Stores: sortedUnique(f.refs[id])},
			Committed: f.modTime[id],
		})
		if err := b.Commit(true); err != nil {
			return err
		}
		rep.Snapshots++
	}
	return nil
}

func checkRefList(b []byte) error {
	rr := snapshot.NewRefReader(bytesReader(b))
	for {
		if _, err := rr.Next(); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}

func (r *Repo) countMissing(repoID uint32, refs []byte) (int, error) {
	rr := snapshot.NewRefReader(bytesReader(refs))
	batch := make([]format.ID, 0, missingBatch)
	var missing []format.ID
	flush := func() (err error) {
		missing, err = r.idx.Missing(repoID, batch, missing)
		batch = batch[:0]
		return err
	}
	for {
		id, err := rr.Next()
		if errors.Is(err, io.EOF) {
			err := flush()
			return len(missing), err
		}
		if err != nil {
			return 0, fmt.Errorf("reference list: %w", err)
		}
		if batch = append(batch, id); len(batch) == missingBatch {
			if err := flush(); err != nil {
				return 0, err
			}
		}
	}
}

// rebuildLocks restores the lock of every indexed snapshot from its lock
// object. Copies that disagree (a crash during a change) resolve to the
// most recently set one; a copy that does not decode, or names another
// snapshot, is skipped. A lock object whose snapshot is gone (a forget
// interrupted after the snapshot's deletion) is left for scrub to report.
// Then every lock still in force walks its snapshot again (retainLocked).
func (r *Repo) rebuildLocks(ctx context.Context, name string, repoID uint32, f *found, rep *RebuildReport) error {
	b := r.idx.NewBatch()
	defer b.Close()
	active := map[format.ID]indexkey.LockRecord{}
	for snap, stores := range f.locks {
		if _, err := r.idx.GetSnapshot(repoID, snap); err != nil {
			r.log.Warn("lock object of a snapshot not in the index; skipped", "repo", name, "snapshot", snap.Short())
			continue
		}
		l, ok := r.newestLockCopy(ctx, lockObject(name, snap), snap, stores)
		if !ok {
			r.log.Error("lock skipped: no intact copy", "repo", name, "snapshot", snap.Short())
			continue
		}
		rec := indexkey.LockRecord{Mode: indexkey.LockMode(l.Mode), Until: l.Until, Set: l.Set}
		b.PutLock(repoID, snap, rec)
		rep.Locks++
		if rec.Until.After(time.Now()) {
			active[snap] = rec
		}
	}
	if err := b.Commit(true); err != nil {
		return err
	}
	return r.retainLocked(ctx, name, repoID, active)
}

// retainLocked runs the retention walk of each lock in force (§13.2) over
// the rebuilt index. It records the packs' RetainUntil, which GC's repack
// consults and which the old index held, and it gives retention again to
// any shard on an Object Lock store that lacks it (one scrub rebuilt).
// Retention is never shortened, so this sets nothing weaker than before.
func (r *Repo) retainLocked(ctx context.Context, name string, repoID uint32, active map[format.ID]indexkey.LockRecord) error {
	for snap, l := range active {
		s, err := r.GetSnapshot(ctx, repoID, snap)
		if err != nil {
			return err
		}
		if err := r.newRetention(ctx, repoID, name, l.Mode, l.Until).snapshot(s); err != nil {
			return fmt.Errorf("retention of locked snapshot %s: %w", snap.Short(), err)
		}
	}
	return nil
}

// newestLockCopy reads every copy of a lock object and returns the valid
// one set last.
func (r *Repo) newestLockCopy(ctx context.Context, name string, snap format.ID, stores []uint16) (lockfile.Lock, bool) {
	var best lockfile.Lock
	found := false
	for _, sid := range stores {
		b, err := backend.ReadAll(ctx, r.stores[sid].Backend, backend.Name(name), 0, -1)
		var l lockfile.Lock
		if err == nil {
			l, err = lockfile.Decode(b)
		}
		if err == nil && l.Snapshot != snap {
			err = format.Corruptf("lock object names snapshot %s", l.Snapshot.Short())
		}
		if err != nil {
			r.log.Warn("damaged lock object copy", "object", name, "store", sid, "err", err)
			continue
		}
		if !found || l.Set.After(best.Set) {
			best, found = l, true
		}
	}
	return best, found
}
