package repo

import (
	"context"
	"errors"
	"fmt"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/index"
)

// ScrubReport counts what a scrub found and did.
type ScrubReport struct {
	Repositories  int `json:"repositories"`
	Packs         int `json:"packs"`
	ShardsGood    int `json:"shards_good"`
	ShardsMissing int `json:"shards_missing"`
	// ShardsAway are shards on a store that is unavailable (its directory
	// or mount gone): not checked and not rebuilt, since they may be intact
	// there. Bring the store back and scrub again.
	ShardsAway    int `json:"shards_unavailable"`
	ShardsCorrupt int `json:"shards_corrupt"`
	ShardsRepair  int `json:"shards_repaired"`
	// ShardsMovedHome are shards that a write had put on another store
	// than their placed one, because that store failed, and that repair
	// moved back to it (SPEC.md §9.10).
	ShardsMovedHome int `json:"shards_moved_home"`
	PacksLost       int `json:"packs_lost"`
	MetaChecked     int `json:"meta_objects_checked"`
	MetaRepaired    int `json:"meta_copies_repaired"`
	MetaLost        int `json:"meta_objects_lost"`
	Dangling        int `json:"dangling_chunk_entries"`
}

// Healthy reports whether nothing is lost or dangling (damage that was
// repaired is fine, and so are shards on an unavailable store as long as
// every pack still has k good ones).
func (s ScrubReport) Healthy() bool { return s.PacksLost == 0 && s.MetaLost == 0 && s.Dangling == 0 }

// Scrub reads every shard of every pack and every copy of every meta
// object (repository record, snapshot headers and reference lists, key
// files, lock objects), verifies their hashes, and with repair rebuilds what is damaged or
// missing in place. It also checks that every chunk entry of the index
// points at a known pack.
func (r *Repo) Scrub(ctx context.Context, repair bool) (ScrubReport, error) {
	var rep ScrubReport
	var repos []string
	err := r.idx.Repos(func(name string, _ indexkey.RepoRecord) error {
		repos = append(repos, name)
		return nil
	})
	if err != nil {
		return rep, err
	}
	for _, name := range repos {
		rep.Repositories++
		if err := r.scrubRepository(ctx, name, repair, &rep); err != nil {
			return rep, fmt.Errorf("repository %s: %w", name, err)
		}
	}
	return rep, nil
}

func (r *Repo) scrubRepository(ctx context.Context, name string, repair bool, rep *ScrubReport) error {
	rec, err := r.idx.GetRepo(name)
	if err != nil {
		return err
	}
	repoID := rec.ID
	refused := map[uint16]bool{} // stores that refused a shard moved home
	err = r.idx.Packs(repoID, func(id format.ID, p indexkey.PackRecord) error {
		h, err := r.coder.ScrubPack(ctx, name, id, p.Length, p.Stores, repair)
		if err != nil && !h.Lost {
			return err
		}
		rep.Packs++
		rep.ShardsGood += h.Good
		rep.ShardsMissing += h.Missing
		rep.ShardsAway += h.Unavailable
		rep.ShardsCorrupt += h.Corrupt
		rep.ShardsRepair += h.Repaired
		if h.Lost {
			rep.PacksLost++
			r.log.Error("pack lost: fewer than k intact shards", "repo", name, "pack", id.Short(), "on_unavailable_stores", h.Unavailable)
		}
		if repair && !h.Lost && h.Missing+h.Corrupt == h.Repaired {
			rep.ShardsMovedHome += r.rehome(ctx, name, repoID, id, p, refused)
		}
		return ctx.Err()
	})
	if err != nil {
		return err
	}
	if err := r.checkDangling(repoID, rep); err != nil {
		return err
	}
	if err := r.scrubRepoObject(ctx, name, rec, repair, rep); err != nil {
		return err
	}
	err = r.idx.Snapshots(repoID, func(id format.ID, s indexkey.SnapshotRecord) error {
		hdr := indexkey.ObjectRef{Name: headerObject(name, id), Size: uint64(len(s.Header.Inline)), Hash: id, Stores: r.metaStores(headerObject(name, id))}
		r.scrubMeta(ctx, hdr, s.Header.Inline, repair, rep)
		r.scrubMeta(ctx, s.Refs, nil, repair, rep)
		return ctx.Err()
	})
	if err != nil {
		return err
	}
	err = r.idx.KeyFiles(repoID, func(id format.ID, blob []byte) error {
		ref := indexkey.ObjectRef{Name: keyFileObject(name, id), Size: uint64(len(blob)), Hash: id, Stores: r.metaStores(keyFileObject(name, id))}
		r.scrubMeta(ctx, ref, blob, repair, rep)
		return ctx.Err()
	})
	if err != nil {
		return err
	}
	return r.scrubLocks(ctx, name, repoID, repair, rep)
}

// scrubLocks checks every copy of every lock object against the index's
// lock record, whose canonical encoding is the object's exact content, so
// repair can rewrite even a lock whose every copy is gone.
func (r *Repo) scrubLocks(ctx context.Context, name string, repoID uint32, repair bool, rep *ScrubReport) error {
	return r.idx.Locks(repoID, func(snap format.ID, l indexkey.LockRecord) error {
		known, err := lockBytes(snap, l)
		if err != nil {
			return err
		}
		obj := lockObject(name, snap)
		r.scrubMeta(ctx, indexkey.ObjectRef{Name: obj, Size: uint64(len(known)), Hash: hashOf(known), Stores: r.metaStores(obj)}, known, repair, rep)
		return ctx.Err()
	})
}

// checkDangling counts chunk entries whose pack the index does not know.
func (r *Repo) checkDangling(repoID uint32, rep *ScrubReport) error {
	var lastPack format.ID
	var lastOK bool
	return r.idx.Chunks(repoID, func(id format.ID, loc indexkey.ChunkLoc) error {
		if loc.Pack != lastPack || !lastOK {
			_, err := r.idx.GetPack(repoID, loc.Pack)
			if err != nil && !errors.Is(err, index.ErrNotFound) {
				return err
			}
			lastPack, lastOK = loc.Pack, err == nil
		}
		if !lastOK {
			rep.Dangling++
			r.log.Error("index entry points at an unknown pack", "chunk", id.Short(), "pack", loc.Pack.Short())
		}
		return nil
	})
}

func (r *Repo) scrubRepoObject(ctx context.Context, name string, rec indexkey.RepoRecord, repair bool, rep *ScrubReport) error {
	b, err := indexkey.EncodeRepoRecord(rec)
	if err != nil {
		return err
	}
	ref := indexkey.ObjectRef{Name: repoObject(name), Size: uint64(len(b)), Hash: hashOf(b), Stores: r.metaStores(repoObject(name))}
	r.scrubMeta(ctx, ref, b, repair, rep)
	return nil
}

// scrubMeta checks every copy of a meta object. known, when non-nil, is the
// object's content as the index holds it, so even an object whose every copy
// is gone can be rewritten.
func (r *Repo) scrubMeta(ctx context.Context, ref indexkey.ObjectRef, known []byte, repair bool, rep *ScrubReport) {
	rep.MetaChecked++
	var bad []uint16
	away := 0 // copies on unavailable stores: neither bad nor good
	good := known
	for _, id := range ref.Stores {
		b, err := r.readMeta(ctx, ref, []uint16{id})
		switch {
		case errors.Is(err, backend.ErrUnavailable):
			away++
			continue
		case err != nil:
			bad = append(bad, id)
			continue
		}
		if good == nil {
			good = b
		}
	}
	switch {
	case good == nil:
		rep.MetaLost++
		r.log.Error("meta object lost: no intact copy", "object", ref.Name, "on_unavailable_stores", away)
		return
	case len(bad) == 0:
		return // nothing to repair: the copies on unavailable stores cannot be rewritten
	}
	if !repair {
		return
	}
	for _, id := range bad {
		if err := r.stores[id].Backend.Put(ctx, backend.Name(ref.Name), backend.Bytes(good)); err != nil {
			r.log.Warn("could not repair meta object copy", "object", ref.Name, "store", id, "err", err)
			continue
		}
		rep.MetaRepaired++
	}
}
