package index

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/holdfast-backup/holdfast/format/indexkey"
)

// CreateRepo registers repository name and returns its new numeric ID: one
// more than the highest ID ever registered ('R' keys are never deleted, so
// IDs are never reused). It returns ErrInvalid for a name that is not
// indexkey.ValidRepoName and ErrExists for a taken name. The record is
// committed with sync before CreateRepo returns.
func (x *Index) CreateRepo(name string) (uint32, error) {
	if !indexkey.ValidRepoName(name) {
		return 0, errInvalidName(name)
	}
	x.repoMu.Lock()
	defer x.repoMu.Unlock()
	switch _, err := x.GetRepo(name); {
	case err == nil:
		return 0, fmt.Errorf("index: create repository %q: %w", name, ErrExists)
	case !errors.Is(err, ErrNotFound):
		return 0, err
	}
	last, err := x.lastRepoID()
	if err != nil {
		return 0, err
	}
	if last == math.MaxUint32 {
		return 0, fmt.Errorf("index: create repository %q: repository IDs exhausted", name)
	}
	id := last + 1
	b := x.NewBatch()
	b.PutRepo(name, indexkey.RepoRecord{ID: id, Created: time.Now()})
	if err := b.Commit(true); err != nil {
		return 0, err
	}
	return id, nil
}

// lastRepoID returns the highest registered repository ID, 0 if none.
func (x *Index) lastRepoID() (uint32, error) {
	lo, hi := indexkey.SpacePrefix(indexkey.SpaceRepoName)
	it, err := x.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: hi})
	if err != nil {
		return 0, fmt.Errorf("index: last repository ID: %w", err)
	}
	var id uint32
	if it.Last() {
		id, err = indexkey.ParseRepoNameKey(it.Key())
		if err != nil {
			err = decodeError(it.Key(), err)
		}
	}
	if ierr := it.Close(); err == nil && ierr != nil {
		err = fmt.Errorf("index: last repository ID: %w", ierr)
	}
	return id, err
}

// RepoID returns the numeric ID of repository name.
func (x *Index) RepoID(name string) (uint32, error) {
	r, err := x.GetRepo(name)
	return r.ID, err
}

// RepoName returns the name of the repository with numeric ID id.
func (x *Index) RepoName(id uint32) (string, error) {
	var name string
	err := x.get(indexkey.RepoNameKey(id), func(v []byte) (err error) {
		name, err = indexkey.DecodeRepoName(v)
		return err
	})
	return name, err
}

func errInvalidName(name string) error {
	return fmt.Errorf("%w: repository name %q", ErrInvalid, name)
}

// exists reports whether k is present; check validates its value.
func (x *Index) exists(k []byte, check func(v []byte) error) (bool, error) {
	err := x.get(k, check)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
