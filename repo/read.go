package repo

import (
	"context"
	"errors"
	"fmt"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/format/pack"
	"github.com/holdfast-backup/holdfast/repo/index"
)

// ReadChunk returns the sealed envelope of chunk id. It reads only the
// chunk's byte range from the data shards, verifies it against the pack
// checksum recorded in the index, and rebuilds it from other shards when a
// shard is missing or damaged. It never returns bytes that failed
// verification: a chunk that cannot be rebuilt is an error wrapping
// erasure.ErrUnrecoverable.
func (r *Repo) ReadChunk(ctx context.Context, repoID uint32, id format.ID) ([]byte, error) {
	name, err := r.repoName(repoID)
	if err != nil {
		return nil, err
	}
	loc, err := r.idx.GetChunk(repoID, id)
	if errors.Is(err, index.ErrNotFound) {
		return nil, fmt.Errorf("chunk %s: %w", id.Short(), ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	b, err := r.readAt(ctx, name, repoID, id, loc)
	if err == nil || ctx.Err() != nil {
		return b, err
	}
	// A repack may have moved the chunk and deleted its old pack between
	// our lookup and the read (SPEC.md §13.8). If the index now points
	// elsewhere, that is what happened: read the new location, once.
	now, lerr := r.idx.GetChunk(repoID, id)
	if lerr != nil || (now.Pack == loc.Pack && now.Offset == loc.Offset) {
		return nil, err
	}
	return r.readAt(ctx, name, repoID, id, now)
}

// readAt reads and verifies chunk id at location loc.
func (r *Repo) readAt(ctx context.Context, name string, repoID uint32, id format.ID, loc indexkey.ChunkLoc) ([]byte, error) {
	rec, err := r.idx.GetPack(repoID, loc.Pack)
	if err != nil {
		return nil, fmt.Errorf("chunk %s: pack %s: %w", id.Short(), loc.Pack.Short(), err)
	}
	return r.readRecord(ctx, name, id, loc, rec, nil, true)
}

// readRecord reads chunk id at location loc in the pack rec describes, into
// buf if it has room. With verify it checks the record's checksum and
// rebuilds a record that fails it from the other shards; without, it
// returns the bytes the data shards hold, for a caller that checks them
// itself (ChunkStream.TrustCaller).
func (r *Repo) readRecord(ctx context.Context, name string, id format.ID, loc indexkey.ChunkLoc, rec indexkey.PackRecord, buf []byte, verify bool) ([]byte, error) {
	entry := pack.Entry{ID: id, Offset: loc.Offset, Length: loc.Length, Checksum: loc.Checksum}
	check := func(b []byte) error { return pack.VerifyRecord(entry, b) }
	if !verify {
		check = func([]byte) error { return nil }
	}
	b, err := r.coder.ReadRangeInto(ctx, name, loc.Pack, rec.Length, rec.Stores,
		int64(loc.Offset), int64(loc.Length), buf, check)
	if err != nil {
		return nil, fmt.Errorf("chunk %s: %w", id.Short(), err)
	}
	return b, nil
}

// Missing returns the IDs of ids that repository repoID does not hold
// durably (chunks in an unflushed open pack count as missing), in the order
// given.
func (r *Repo) Missing(repoID uint32, ids []format.ID) ([]format.ID, error) {
	if _, err := r.repoName(repoID); err != nil {
		return nil, err
	}
	return r.idx.Missing(repoID, ids, nil)
}
