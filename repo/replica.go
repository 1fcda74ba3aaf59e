package repo

import (
	"context"
	"errors"
	"fmt"

	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/repo/index"
)

// SetReplica sets or clears the read-only replica flag (indexkey.RepoReplica)
// of repository name and returns the record as stored. The repository object
// on the stores is rewritten first and the index after, so rebuild-index
// keeps the flag; a crash between the two leaves the index (the truth) with
// the old flag, and scrub rewrites the object from it. Setting the flag it
// already has changes nothing.
func (r *Repo) SetReplica(ctx context.Context, name string, replica bool) (indexkey.RepoRecord, error) {
	r.flagsMu.Lock()
	defer r.flagsMu.Unlock()
	rec, err := r.idx.GetRepo(name)
	if errors.Is(err, index.ErrNotFound) || errors.Is(err, index.ErrInvalid) {
		return rec, fmt.Errorf("repository %q: %w", name, ErrNoRepository)
	}
	if err != nil {
		return rec, err
	}
	want := rec.Flags &^ indexkey.RepoReplica
	if replica {
		want |= indexkey.RepoReplica
	}
	if want == rec.Flags {
		return rec, nil
	}
	rec.Flags = want
	if err := r.writeRepoObject(ctx, name, rec); err != nil {
		return rec, fmt.Errorf("repository %q: write record: %w", name, err)
	}
	b := r.idx.NewBatch()
	defer b.Close()
	b.PutRepo(name, rec)
	return rec, b.Commit(true)
}

// Repository returns the record of repository name (ID and flags).
func (r *Repo) Repository(name string) (indexkey.RepoRecord, error) {
	rec, err := r.idx.GetRepo(name)
	if errors.Is(err, index.ErrNotFound) || errors.Is(err, index.ErrInvalid) {
		return rec, fmt.Errorf("repository %q: %w", name, ErrNoRepository)
	}
	return rec, err
}
