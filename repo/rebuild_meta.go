package repo

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/format/snapshot"
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
