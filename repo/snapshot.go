package repo

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/format/snapshot"
	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/index"
)

// RefSource yields a snapshot's reference list in ascending order; it
// returns io.EOF after the last ID.
type RefSource func() (format.ID, error)

// RefsFromSlice returns a RefSource over ids (which must be ascending).
func RefsFromSlice(ids []format.ID) RefSource {
	i := 0
	return func() (format.ID, error) {
		if i == len(ids) {
			return format.ID{}, io.EOF
		}
		i++
		return ids[i-1], nil
	}
}

// missingBatch is how many reference IDs are checked against the index at a
// time while a commit streams its reference list.
const missingBatch = 10000

// CommitSnapshot commits a snapshot: the encoded clear header (SPEC.md §7.1)
// and its reference list. It flushes the repository's open pack, checks that
// the header decodes, that the references are strictly ascending and match
// the header's RefCount and RefsHash, and that the repository holds every
// referenced chunk; then it writes the header and reference list to the
// stores and commits the snapshot record in one synced index batch. The
// snapshot ID is the BLAKE3-256 of the header bytes. Committing a snapshot
// that already exists returns its ID and changes nothing.
func (r *Repo) CommitSnapshot(ctx context.Context, repoID uint32, header []byte, refs RefSource) (format.ID, error) {
	return r.commitSnapshot(ctx, repoID, nil, header, refs)
}

// CommitSnapshotFor is CommitSnapshot for upload session sid: a reference
// the session holds a present pin for (its FilterMissing found the chunk
// in the index) is taken as held without a lookup, since GC keeps what a
// session pins (SPEC.md §11.4, §13.6). The others are looked up as
// CommitSnapshot does. The caller checks that the session is live.
func (r *Repo) CommitSnapshotFor(ctx context.Context, repoID uint32, sid indexkey.SessionID, header []byte, refs RefSource) (format.ID, error) {
	return r.commitSnapshot(ctx, repoID, &sid, header, refs)
}

func (r *Repo) commitSnapshot(ctx context.Context, repoID uint32, sid *indexkey.SessionID, header []byte, refs RefSource) (format.ID, error) {
	name, err := r.repoName(repoID)
	if err != nil {
		return format.ID{}, err
	}
	h, err := snapshot.Decode(header)
	if err != nil {
		return format.ID{}, fmt.Errorf("snapshot header: %v: %w", err, ErrInvalid)
	}
	id := format.ID(blake3.Sum256(header))
	if _, err := r.idx.GetSnapshot(repoID, id); err == nil {
		return id, nil
	} else if !errors.Is(err, index.ErrNotFound) {
		return id, err
	}
	if err := r.Flush(ctx, repoID); err != nil {
		return id, err
	}
	sp := &spool{dir: r.cfg.DataDir}
	defer sp.Close()
	// From the reference check to the snapshot batch, GC's seal step must
	// not run: a chunk found here must still be in the index when the
	// snapshot that relies on it lands (guard.go, SPEC.md §13.6).
	release := r.GCShared(repoID)
	defer release()
	sum := blake3.New()
	if err := r.checkRefs(ctx, repoID, sid, h, refs, io.MultiWriter(sp, sum)); err != nil {
		return id, err
	}
	// The two objects are written at once (each waits on its stores'
	// fsyncs); the index batch that makes them reachable waits for both.
	var (
		refsRef indexkey.ObjectRef
		refsErr error
		done    = make(chan struct{})
	)
	go func() {
		defer close(done)
		refsRef, refsErr = r.putMeta(ctx, refsObject(name, id), sp, [32]byte(sum.Sum(nil)))
	}()
	_, hdrErr := r.putMeta(ctx, headerObject(name, id), backend.Bytes(header), id)
	<-done
	if err := cmp.Or(refsErr, hdrErr); err != nil {
		return id, err
	}
	b := r.idx.NewBatch()
	defer b.Close()
	b.PutSnapshot(repoID, id, indexkey.SnapshotRecord{
		Header:    indexkey.ObjectRef{Inline: header},
		Refs:      refsRef,
		Committed: time.Now(),
	})
	if err := b.Commit(true); err != nil {
		return id, fmt.Errorf("commit snapshot %s: %w", id.Short(), err)
	}
	return id, nil
}

// checkRefs streams refs into w as an encoded reference list while checking
// order, count, checksum and that every chunk is held: present-pinned by
// session sid (when not nil) or found in the index.
func (r *Repo) checkRefs(ctx context.Context, repoID uint32, sid *indexkey.SessionID, h *snapshot.Header, refs RefSource, w io.Writer) error {
	rw := snapshot.NewRefWriter(w, h.RefCount)
	batch := make([]format.ID, 0, missingBatch)
	var missing []format.ID
	var n uint64
	check := func() error {
		look := batch
		if sid != nil && len(batch) > 0 {
			var err error
			if look, err = r.notPresentPinned(repoID, *sid, batch); err != nil {
				return err
			}
		}
		r.counters.refsPinned.Add(uint64(len(batch) - len(look)))
		r.counters.refsLooked.Add(uint64(len(look)))
		var err error
		missing, err = r.idx.Missing(repoID, look, missing)
		batch = batch[:0]
		return err
	}
	for {
		id, err := refs()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if n++; n > h.RefCount {
			return fmt.Errorf("reference list longer than the header's %d: %w", h.RefCount, ErrInvalid)
		}
		if err := rw.Add(id); err != nil {
			return fmt.Errorf("reference list: %v: %w", err, ErrInvalid)
		}
		if batch = append(batch, id); len(batch) == missingBatch {
			if err := check(); err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	if err := check(); err != nil {
		return err
	}
	if n != h.RefCount {
		return fmt.Errorf("reference list has %d IDs, header says %d: %w", n, h.RefCount, ErrInvalid)
	}
	if err := rw.Close(); err != nil {
		return fmt.Errorf("reference list: %v: %w", err, ErrInvalid)
	}
	if rw.Sum() != h.RefsHash {
		return fmt.Errorf("reference list does not match the header's RefsHash: %w", ErrInvalid)
	}
	if len(missing) > 0 {
		if cause := r.lastWriteFailure(repoID); cause != nil {
			// The chunks were accepted, but their pack never landed: the
			// store's fault is what the uploader needs to hear.
			return fmt.Errorf("%d of %d referenced chunks are missing because a pack write failed: %w", len(missing), n, cause)
		}
		return fmt.Errorf("%d of %d referenced chunks (first %s): %w", len(missing), n, missing[0].Short(), ErrMissingChunks)
	}
	return nil
}

// notPresentPinned returns the IDs of batch (ascending) that session sid
// has no present pin for, merging batch with the session's present pins in
// its range. It reuses batch's array.
func (r *Repo) notPresentPinned(repoID uint32, sid indexkey.SessionID, batch []format.ID) ([]format.ID, error) {
	out := batch[:0]
	i := 0
	err := r.idx.PresentPins(repoID, sid, batch[0], batch[len(batch)-1], func(p format.ID) error {
		for i < len(batch) && batch[i].Compare(p) < 0 {
			out = append(out, batch[i])
			i++
		}
		if i < len(batch) && batch[i] == p {
			i++ // pinned present: no lookup
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return append(out, batch[i:]...), nil
}

// Snapshot is a committed snapshot as the engine holds it.
type Snapshot struct {
	ID        format.ID
	Header    []byte // encoded clear header (SPEC.md §7.1)
	Committed time.Time
	refs      indexkey.ObjectRef
}

// GetSnapshot returns snapshot id of repository repoID.
func (r *Repo) GetSnapshot(ctx context.Context, repoID uint32, id format.ID) (Snapshot, error) {
	rec, err := r.idx.GetSnapshot(repoID, id)
	if errors.Is(err, index.ErrNotFound) {
		return Snapshot{}, fmt.Errorf("snapshot %s: %w", id.Short(), ErrNotFound)
	}
	if err != nil {
		return Snapshot{}, err
	}
	hdr, err := r.getMeta(ctx, rec.Header)
	if err != nil {
		return Snapshot{}, err
	}
	return Snapshot{ID: id, Header: hdr, Committed: rec.Committed, refs: rec.Refs}, nil
}

// Snapshots calls fn for every snapshot of repository repoID, in ID order.
func (r *Repo) Snapshots(ctx context.Context, repoID uint32, fn func(Snapshot) error) error {
	return r.idx.Snapshots(repoID, func(id format.ID, rec indexkey.SnapshotRecord) error {
		hdr, err := r.getMeta(ctx, rec.Header)
		if err != nil {
			return err
		}
		return fn(Snapshot{ID: id, Header: hdr, Committed: rec.Committed, refs: rec.Refs})
	})
}

// ReadRefs calls fn for every chunk ID snapshot s references, in ascending
// order, after verifying the stored list's order, count and checksum.
func (r *Repo) ReadRefs(ctx context.Context, s Snapshot, fn func(format.ID) error) error {
	b, err := r.getMeta(ctx, s.refs)
	if err != nil {
		return fmt.Errorf("snapshot %s: reference list: %w", s.ID.Short(), err)
	}
	rr := snapshot.NewRefReader(bytes.NewReader(b))
	for {
		id, err := rr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("snapshot %s: reference list: %w", s.ID.Short(), err)
		}
		if err := fn(id); err != nil {
			return err
		}
	}
}
