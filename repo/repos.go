package repo

import (
	"context"
	"errors"
	"fmt"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/index"
)

// CreateRepository registers a new repository and writes its record to the
// stores (so rebuild-index can find it). Names are [a-z0-9][a-z0-9-]{0,62}.
func (r *Repo) CreateRepository(ctx context.Context, name string) (uint32, error) {
	id, err := r.idx.CreateRepo(name)
	switch {
	case errors.Is(err, index.ErrExists):
		return 0, fmt.Errorf("repository %q: %w", name, ErrExists)
	case errors.Is(err, index.ErrInvalid):
		return 0, fmt.Errorf("repository name %q: want 1-63 of a-z, 0-9 and '-', starting with a letter or digit: %w", name, ErrInvalid)
	case err != nil:
		return 0, err
	}
	rec, err := r.idx.GetRepo(name)
	if err != nil {
		return 0, err
	}
	if err := r.writeRepoObject(ctx, name, rec); err != nil {
		// The index already holds the repository; scrub rewrites a
		// missing record object, so report and go on.
		r.log.Warn("repository record not written to the stores; scrub will repair it", "repo", name, "err", err)
	}
	return id, nil
}

func (r *Repo) writeRepoObject(ctx context.Context, name string, rec indexkey.RepoRecord) error {
	b, err := indexkey.EncodeRepoRecord(rec)
	if err != nil {
		return err
	}
	_, err = r.putMeta(ctx, repoObject(name), backend.Bytes(b), blake3.Sum256(b))
	return err
}

// RepositoryID returns the numeric ID of repository name.
func (r *Repo) RepositoryID(name string) (uint32, error) {
	id, err := r.idx.RepoID(name)
	if errors.Is(err, index.ErrNotFound) || errors.Is(err, index.ErrInvalid) {
		return 0, fmt.Errorf("repository %q: %w", name, ErrNoRepository)
	}
	return id, err
}

// PutKeyFile stores a key file blob (SPEC.md §4) for repository repoID and
// returns its ID, the BLAKE3-256 of the blob. Storing the same blob twice is
// harmless.
func (r *Repo) PutKeyFile(ctx context.Context, repoID uint32, blob []byte) (format.ID, error) {
	name, err := r.repoName(repoID)
	if err != nil {
		return format.ID{}, err
	}
	id := format.ID(blake3.Sum256(blob))
	if _, err := r.putMeta(ctx, keyFileObject(name, id), backend.Bytes(blob), id); err != nil {
		return id, err
	}
	b := r.idx.NewBatch()
	defer b.Close()
	b.PutKeyFile(repoID, id, blob)
	return id, b.Commit(true)
}

// KeyFiles calls fn for each key file of repository repoID.
func (r *Repo) KeyFiles(repoID uint32, fn func(id format.ID, blob []byte) error) error {
	return r.idx.KeyFiles(repoID, fn)
}
