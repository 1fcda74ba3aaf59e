package repo

import (
	"context"
	"errors"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
)

// errStopScan ends an index scan early; it never leaves this package.
var errStopScan = errors.New("stop scan")

// SnapshotsAfter calls fn for at most limit snapshots of repository repoID
// whose IDs sort after after, in ID order; the zero ID starts at the first
// snapshot (no snapshot has the zero ID: it is a BLAKE3 output). It is the
// paged form of Snapshots, for listing APIs.
//
// Cost: the index has no scan that starts at a key, so this walks the
// repository's snapshot records from the first and skips those up to after.
// The skipped records are decoded but their headers are not read from the
// stores, so a page costs O(position) cheap index reads plus O(limit) header
// reads; listing N snapshots page by page costs about N²/(2·limit) skipped
// records (10,000 snapshots at 1,000 a page: 50,000). A start-key scan in
// repo/index would make it O(limit).
func (r *Repo) SnapshotsAfter(ctx context.Context, repoID uint32, after format.ID, limit int, fn func(Snapshot) error) error {
	if limit <= 0 {
		return nil
	}
	n := 0
	err := r.idx.Snapshots(repoID, func(id format.ID, rec indexkey.SnapshotRecord) error {
		if !after.IsZero() && id.Compare(after) <= 0 {
			return nil
		}
		if n == limit {
			return errStopScan
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := r.getMeta(ctx, rec.Header)
		if err != nil {
			return err
		}
		n++
		return fn(Snapshot{ID: id, Header: hdr, Committed: rec.Committed, refs: rec.Refs})
	})
	if errors.Is(err, errStopScan) {
		return nil
	}
	return err
}
