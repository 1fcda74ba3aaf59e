package repo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/format/shard"
	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/index"
)

// retention extends S3 Object Lock retention over what a snapshot lock
// covers (SPEC.md §10.6, §13.2): every shard of every pack holding a chunk
// the snapshot references, and the snapshot's meta objects, on every store
// that implements backend.Retainer. Stores without it (local directories)
// are skipped: the index's lock is then the only protection.
type retention struct {
	r      *Repo
	ctx    context.Context
	repoID uint32
	name   string
	mode   backend.RetentionMode
	until  time.Time
	stores map[uint16]backend.Retainer
}

func (r *Repo) newRetention(ctx context.Context, repoID uint32, name string, mode indexkey.LockMode, until time.Time) *retention {
	t := &retention{r: r, ctx: ctx, repoID: repoID, name: name, until: until, stores: map[uint16]backend.Retainer{},
		mode: backend.RetentionGovernance}
	if mode == indexkey.LockCompliance {
		t.mode = backend.RetentionCompliance
	}
	for id, s := range r.stores {
		if ret, ok := backend.As[backend.Retainer](s.Backend); ok {
			t.stores[id] = ret
		}
	}
	return t
}

// retainBatch is how many reference IDs are looked up at a time.
const retainBatch = 10000

// maxRetainPasses bounds the passes of snapshot. Each pass leaves every
// pack it saw retained, and GC never repacks a retained pack, so a second
// pass normally finds nothing new; more means something is wrong.
const maxRetainPasses = 8

// testHookRetainLookedUp, when set by a test, runs after each pass has
// found the snapshot's packs and before it retains them.
var testHookRetainLookedUp func()

// snapshot retains the shards of every pack snapshot s references, then
// its header and reference-list objects, and records the new RetainUntil
// of each pack it extended.
//
// GC may repack while this runs: a repack that commits between the lookup
// and the retention moves chunks of s into a new pack this pass never saw.
// So the pass repeats until no repack committed during it. A repack cannot
// move chunks out of a pack once its RetainUntil is recorded (it checks
// under the pack lock before it writes), so the pass that sees no repack
// commit leaves every chunk of s in a retained pack.
func (t *retention) snapshot(s Snapshot) error {
	if len(t.stores) == 0 {
		return nil
	}
	for pass := 1; ; pass++ {
		before := t.r.repacks.Load()
		packs, err := t.packsOf(s)
		if err != nil {
			return err
		}
		if testHookRetainLookedUp != nil {
			testHookRetainLookedUp()
		}
		for id := range packs {
			if err := t.pack(id); err != nil {
				return err
			}
		}
		if t.r.repacks.Load() == before {
			break
		}
		if pass == maxRetainPasses {
			return fmt.Errorf("snapshot %s: garbage collection kept repacking its chunks during %d retention passes; retry when it is done", s.ID.Short(), pass)
		}
	}
	hdr := headerObject(t.name, s.ID)
	if err := t.meta(hdr, t.r.metaStores(hdr)); err != nil {
		return err
	}
	return t.meta(s.refs.Name, s.refs.Stores)
}

// packsOf returns the packs holding chunks that s references.
func (t *retention) packsOf(s Snapshot) (map[format.ID]bool, error) {
	packs := map[format.ID]bool{}
	batch := make([]format.ID, 0, retainBatch)
	lookup := func() error {
		err := t.r.idx.Lookup(t.repoID, batch, func(i int, loc indexkey.ChunkLoc, ok bool) {
			if ok {
				packs[loc.Pack] = true
			}
		})
		batch = batch[:0]
		return err
	}
	err := t.r.ReadRefs(t.ctx, s, func(id format.ID) error {
		if batch = append(batch, id); len(batch) == retainBatch {
			return lookup()
		}
		return nil
	})
	if err == nil {
		err = lookup()
	}
	return packs, err
}

// pack extends the retention of one pack's shards unless its record says
// they are already retained at least as long, then records it. A pack
// that is gone was repacked since the lookup; the next pass finds where
// its chunks went.
func (t *retention) pack(id format.ID) error {
	rec, todo, err := t.unretained(id)
	if err != nil || !todo {
		return err
	}
	for i, sid := range rec.Stores {
		if err := t.object(sid, shard.ObjectName(t.name, id, i)); err != nil {
			return err
		}
	}
	// The record is read again and rewritten under the pack lock, which a
	// repack and a landing hold when they rewrite it, and under the GC
	// guard, which GC's sweep holds exclusively when it does: none of them
	// may lose the RetainUntil that stops a repack of this pack.
	defer t.r.GCShared(t.repoID)()
	return t.r.withPacks(func() error {
		rec, todo, err := t.unretained(id)
		if err != nil || !todo {
			return err
		}
		rec.RetainUntil = t.until
		b := t.r.idx.NewBatch()
		defer b.Close()
		b.PutPack(t.repoID, id, rec)
		// Unsynced: the lock record's synced commit comes after it in the
		// same log, and a crash before that loses the lock too.
		return b.Commit(false)
	}, id)
}

// unretained returns pack id's record and whether its recorded retention
// ends before t.until; a pack the index no longer has needs nothing.
func (t *retention) unretained(id format.ID) (indexkey.PackRecord, bool, error) {
	rec, err := t.r.idx.GetPack(t.repoID, id)
	if errors.Is(err, index.ErrNotFound) {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, fmt.Errorf("pack %s: %w", id.Short(), err)
	}
	return rec, rec.RetainUntil.Before(t.until), nil
}

// meta retains every copy of a meta object.
func (t *retention) meta(name string, stores []uint16) error {
	for _, sid := range stores {
		if err := t.object(sid, name); err != nil {
			return err
		}
	}
	return nil
}

// object retains one object on one store, if that store can. A missing
// object (a shard that scrub has yet to rebuild) is logged, not fatal: the
// rest of the pack still gets its retention.
func (t *retention) object(sid uint16, name string) error {
	ret, ok := t.stores[sid]
	if !ok {
		return nil
	}
	err := ret.SetRetention(t.ctx, backend.Name(name), t.mode, t.until)
	if err != nil && t.mode == backend.RetentionGovernance && errors.Is(err, backend.ErrPermission) {
		// The object is already under a compliance retention (another
		// snapshot's compliance lock), which S3 will not turn into
		// governance: extend it in compliance mode instead. Stricter than
		// asked, never weaker.
		err = ret.SetRetention(t.ctx, backend.Name(name), backend.RetentionCompliance, t.until)
	}
	switch {
	case errors.Is(err, backend.ErrNotExist):
		t.r.log.Warn("object to retain is missing; scrub will rebuild it without retention", "object", name, "store", sid)
		return nil
	case err != nil:
		return fmt.Errorf("store %d: retain %s: %w", sid, name, err)
	}
	return nil
}
