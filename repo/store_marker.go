package repo

import (
	"errors"
	"fmt"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/backend/local"
)

// checkMarkers makes sure every local store's directory is the store the
// layout names (SPEC.md §10.4, "Store markers"). A directory with the
// store's marker is. One without a marker is marked now, unless it is
// empty while the index has packs on the store: that is the empty mount
// point of a disk that is not mounted, or a replaced disk, and either way
// the store is made unavailable (reads rebuild from the other stores,
// writes fail) until the disk is mounted or adopted with AdoptStore. A
// directory with another store's marker (swapped disks) is unavailable too.
func (r *Repo) checkMarkers() error {
	for _, id := range r.order {
		lb, ok := r.stores[id].Backend.(*local.Backend)
		if !ok {
			continue
		}
		if err := r.checkMarker(id, lb); err != nil {
			return fmt.Errorf("store %d: %w", id, err)
		}
	}
	return nil
}

func (r *Repo) checkMarker(id uint16, lb *local.Backend) error {
	lb.SetUnavailable("") // judge the directory afresh at every open
	have, marked, err := lb.Marker()
	switch {
	case errors.Is(err, backend.ErrUnavailable):
		r.log.Error("store unavailable", "store", id, "err", err)
		return nil
	case err != nil:
		r.away(id, lb, "its store marker cannot be read: "+err.Error())
		return nil
	case marked && have == id:
		return nil
	case marked:
		r.away(id, lb, fmt.Sprintf("its directory holds the marker of store %d: disks swapped?", have))
		return nil
	}
	empty, err := lb.Empty()
	if err != nil {
		return err
	}
	if empty {
		used, err := r.storeUsed(id)
		if err != nil {
			return err
		}
		if used {
			r.away(id, lb, fmt.Sprintf("its directory is empty and has no marker, but packs are stored on it: the disk is not mounted? (a replaced disk: holdfastd scrub --replaced-store %d)", id))
			return nil
		}
	}
	if err := lb.Mark(id); err != nil {
		// A read-only or full store is still readable: use it unmarked.
		r.log.Warn("could not write the store marker; the store is used without it", "store", id, "err", err)
	}
	return nil
}

func (r *Repo) away(id uint16, lb *local.Backend, why string) {
	lb.SetUnavailable(why)
	r.log.Error("store unavailable: "+why, "store", id)
}

// errFound stops a scan early.
var errFound = errors.New("found")

// storeUsed reports whether the index has a pack with a shard on store id.
func (r *Repo) storeUsed(id uint16) (bool, error) {
	var repos []uint32
	err := r.idx.Repos(func(_ string, rec indexkey.RepoRecord) error {
		repos = append(repos, rec.ID)
		return nil
	})
	if err != nil {
		return false, err
	}
	for _, repoID := range repos {
		err := r.idx.Packs(repoID, func(_ format.ID, p indexkey.PackRecord) error {
			for _, s := range p.Stores {
				if s == id {
					return errFound
				}
			}
			return nil
		})
		if errors.Is(err, errFound) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
	return false, nil
}

// AdoptStore takes the empty directory of local store id, which Open made
// unavailable, as a replacement disk: it writes the store's marker and
// makes the store available again, so that a repairing scrub refills it.
// A directory that holds anything (or another store's marker) is refused:
// adopting the mount point of a disk that is merely not mounted would
// write the store's shards onto the parent file system.
func (r *Repo) AdoptStore(id uint16) error {
	s, ok := r.stores[id]
	if !ok {
		return fmt.Errorf("store %d: no such store in the layout", id)
	}
	lb, ok := s.Backend.(*local.Backend)
	if !ok {
		return fmt.Errorf("store %d: not a local directory (only a local store can be replaced by an empty disk)", id)
	}
	lb.SetUnavailable("") // to look at the directory itself
	have, marked, err := lb.Marker()
	switch {
	case err == nil && marked && have == id:
		err = errors.New("its directory is the store already (it has its marker): nothing to adopt")
	case err == nil && marked:
		err = fmt.Errorf("its directory holds the marker of store %d", have)
	}
	var empty bool
	if err == nil {
		empty, err = lb.Empty()
	}
	if err == nil && !empty {
		err = errors.New("its directory is not empty: not a replaced disk")
	}
	if err == nil {
		err = lb.Mark(id)
	}
	if err != nil {
		_ = r.checkMarker(id, lb) // back to what Open found
		return fmt.Errorf("store %d: cannot adopt: %w", id, err)
	}
	r.log.Info("store adopted as a replaced disk: a repairing scrub refills it", "store", id)
	return nil
}

// StoreStatus is whether one store can be used now.
type StoreStatus struct {
	ID  uint16
	Err error // nil when available; else matches backend.ErrUnavailable
}

// StoreStatus checks the stores that can say whether they are there (local
// directories: one stat; S3: one HeadBucket, answers cached for seconds)
// and reports each, in ID order.
func (r *Repo) StoreStatus() []StoreStatus {
	var out []StoreStatus
	for _, id := range r.order {
		if a, ok := r.stores[id].Backend.(interface{ Available() error }); ok {
			out = append(out, StoreStatus{ID: id, Err: a.Available()})
		}
	}
	return out
}
