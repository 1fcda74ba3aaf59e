package repo

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/index"
)

// DeleteSnapshot removes snapshot id of repository repoID: its index record,
// then its header and reference-list objects on the stores. The chunks it
// referenced stay until GC finds them unreferenced. Whether the snapshot may
// be deleted (locks) is the caller's decision.
//
// Order: the index record goes first, in a synced batch, so that from the
// moment DeleteSnapshot returns no reader and no GC mark phase sees the
// snapshot. The objects go second. A crash (or a store error) in between
// leaves header and reference objects without an index record: harmless to
// GC, which marks from the index, and rebuild-index would bring the snapshot
// back — the safe direction, a deletion undone rather than a snapshot lost.
// The reverse order could leave a record whose reference list is gone, which
// no reader could use and GC could not mark from.
//
// Object deletions that fail are logged, not returned: the snapshot is
// already gone for every client, and a retry would find nothing to delete.
func (r *Repo) DeleteSnapshot(ctx context.Context, repoID uint32, id format.ID) error {
	name, err := r.repoName(repoID)
	if err != nil {
		return err
	}
	rec, err := r.idx.GetSnapshot(repoID, id)
	if errors.Is(err, index.ErrNotFound) {
		return fmt.Errorf("snapshot %s: %w", id.Short(), ErrNotFound)
	}
	if err != nil {
		return err
	}
	b := r.idx.NewBatch()
	defer b.Close()
	b.DeleteSnapshot(repoID, id)
	if err := b.Commit(true); err != nil {
		return fmt.Errorf("delete snapshot %s: %w", id.Short(), err)
	}
	var errs []error
	// CommitSnapshot keeps the header inline in the index but also writes it
	// as a meta object (for rebuild-index), placed by its name.
	errs = append(errs, r.deleteMeta(ctx, rec.Header, headerObject(name, id)))
	errs = append(errs, r.deleteMeta(ctx, rec.Refs, refsObject(name, id)))
	if err := errors.Join(errs...); err != nil {
		r.log.Warn("snapshot deleted from the index, but some of its objects remain; rebuild-index would restore it",
			"repo", name, "snapshot", id.String(), "err", err)
	}
	return nil
}

// deleteMeta deletes every copy of a meta object, spare ones included. An inline reference names
// no stores; the object then lives where putMeta placed it by name.
func (r *Repo) deleteMeta(ctx context.Context, ref indexkey.ObjectRef, name string) error {
	stores := ref.Stores
	if ref.Name != "" {
		name = ref.Name
	} else {
		stores = r.metaStores(name)
	}
	var errs []error
	for _, sid := range stores {
		s, ok := r.stores[sid]
		if !ok {
			errs = append(errs, fmt.Errorf("store %d: not configured", sid))
			continue
		}
		if err := s.Backend.Delete(ctx, backend.Name(name)); err != nil {
			errs = append(errs, fmt.Errorf("store %d: delete %s: %w", sid, name, err))
		}
	}
	// A copy spilled to a spare store while one of its stores failed
	// (putMeta) must not outlive the object: an index rebuild would bring
	// it back. Deleting what is not there is no error.
	for _, sid := range r.metaRing(name) {
		if slices.Contains(stores, sid) {
			continue
		}
		if err := r.stores[sid].Backend.Delete(ctx, backend.Name(name)); err != nil {
			r.log.Warn("could not delete a spare copy of a meta object", "object", name, "store", sid, "err", err)
		}
	}
	return errors.Join(errs...)
}
