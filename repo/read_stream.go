package repo

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/format/pack"
	"github.com/holdfast-backup/holdfast/repo/index"
)

// maxCachedPacks bounds the pack records one ChunkStream remembers. A
// restore reads chunks in file order, and a file's chunks were uploaded
// together, so consecutive chunks share a few packs; a bounded map keeps
// the memory of a stream fixed however many packs it touches.
const maxCachedPacks = 1024

// ChunkStream reads many chunks of one repository, as a restore stream
// does: Locate once per chunk, then ReadAt. It remembers the pack records
// it looked up, so a chunk costs one index lookup instead of three (the
// chunk twice and its pack once). A remembered record is only a hint: a
// read that fails with it is retried with the index's current record and
// location (SPEC.md §12.4). Safe for concurrent use.
type ChunkStream struct {
	r      *Repo
	repoID uint32
	name   string

	mu    sync.Mutex
	packs map[format.ID]indexkey.PackRecord

	unverified bool // TrustCaller
}

// TrustCaller makes ReadAt skip the check of each record's checksum, for a
// caller that verifies every envelope itself (ReadChunks with
// client_verifies): the bytes are those the data shards hold, damaged or
// not, and a shard that is missing or short is still rebuilt from the
// others. The caller asks again, without it, for a chunk it finds bad.
// Call it before the first ReadAt.
func (s *ChunkStream) TrustCaller() { s.unverified = true }

// NewChunkStream returns a reader of repository repoID's chunks.
func (r *Repo) NewChunkStream(repoID uint32) (*ChunkStream, error) {
	name, err := r.repoName(repoID)
	if err != nil {
		return nil, err
	}
	return &ChunkStream{r: r, repoID: repoID, name: name, packs: make(map[format.ID]indexkey.PackRecord)}, nil
}

// Locate returns where chunk id is stored. A chunk the repository does not
// hold is an error wrapping ErrNotFound that names it.
func (s *ChunkStream) Locate(id format.ID) (indexkey.ChunkLoc, error) {
	loc, err := s.r.idx.GetChunk(s.repoID, id)
	if errors.Is(err, index.ErrNotFound) {
		return loc, fmt.Errorf("chunk %s: %w", id.Short(), ErrNotFound)
	}
	return loc, err
}

// ReadAt returns the envelope of chunk id, which Locate found at loc, as
// ReadChunk does: verified unless TrustCaller was called. It reads into
// buf when buf has room for the envelope, so a caller can reuse buffers.
func (s *ChunkStream) ReadAt(ctx context.Context, id format.ID, loc indexkey.ChunkLoc, buf []byte) ([]byte, error) {
	b, cached, err := s.readAt(ctx, id, loc, buf)
	if err == nil || ctx.Err() != nil {
		return b, err
	}
	s.forget(loc.Pack)
	// As in ReadChunk: a repack may have moved the chunk and deleted its
	// pack meanwhile. If it did not, a remembered pack record may be what
	// is stale, so read once more with the index's record; otherwise the
	// failure stands.
	now, lerr := s.r.idx.GetChunk(s.repoID, id)
	if lerr != nil || (now.Pack == loc.Pack && now.Offset == loc.Offset && !cached) {
		return nil, err
	}
	b, _, err = s.readAt(ctx, id, now, buf)
	return b, err
}

// readAt reads chunk id at loc with its pack's record, remembered or
// looked up, and reports whether the record was remembered.
func (s *ChunkStream) readAt(ctx context.Context, id format.ID, loc indexkey.ChunkLoc, buf []byte) ([]byte, bool, error) {
	rec, cached, err := s.pack(loc.Pack)
	if err != nil {
		return nil, false, fmt.Errorf("chunk %s: pack %s: %w", id.Short(), loc.Pack.Short(), err)
	}
	b, err := s.r.readRecord(ctx, s.name, id, loc, rec, buf, !s.unverified)
	return b, cached, err
}

// pack returns pack id's record, remembered or from the index, and
// whether it was remembered.
func (s *ChunkStream) pack(id format.ID) (indexkey.PackRecord, bool, error) {
	s.mu.Lock()
	rec, ok := s.packs[id]
	s.mu.Unlock()
	if ok {
		return rec, true, nil
	}
	rec, err := s.r.idx.GetPack(s.repoID, id)
	if err != nil {
		return rec, false, err
	}
	s.mu.Lock()
	if len(s.packs) >= maxCachedPacks {
		clear(s.packs)
	}
	s.packs[id] = rec
	s.mu.Unlock()
	return rec, false, nil
}

func (s *ChunkStream) forget(id format.ID) {
	s.mu.Lock()
	delete(s.packs, id)
	s.mu.Unlock()
}

// ReadSpan reads the records of chunks ids at locs with one range read of
// their pack, from the first record's first byte to the last record's
// last, into buf when it has room: a restore's small files lie side by
// side, and reading them one by one costs a store read each. The records
// must lie in one pack in ascending order, without overlap; the bytes
// between them are read too, so a caller keeps the gaps small. Record i
// is at locs[i].Offset-locs[0].Offset of the result. Each record is
// checked unless TrustCaller was called, and a damaged one is rebuilt from
// the other shards, as in ReadAt. Unlike ReadAt it does not retry a stale
// location: a caller that gets an error reads the chunks one by one.
func (s *ChunkStream) ReadSpan(ctx context.Context, ids []format.ID, locs []indexkey.ChunkLoc, buf []byte) ([]byte, error) {
	if len(locs) == 0 || len(ids) != len(locs) {
		return nil, fmt.Errorf("read span: %d IDs, %d locations: %w", len(ids), len(locs), ErrInvalid)
	}
	first, last := locs[0], locs[len(locs)-1]
	for i := 1; i < len(locs); i++ {
		if locs[i].Pack != first.Pack || locs[i].Offset < locs[i-1].Offset+uint64(locs[i-1].Length) {
			return nil, fmt.Errorf("read span: chunk %s is not after chunk %s in pack %s: %w", ids[i].Short(), ids[i-1].Short(), first.Pack.Short(), ErrInvalid)
		}
	}
	rec, _, err := s.pack(first.Pack)
	if err != nil {
		return nil, fmt.Errorf("read span: pack %s: %w", first.Pack.Short(), err)
	}
	check := func([]byte) error { return nil }
	if !s.unverified {
		check = func(b []byte) error {
			for i, loc := range locs {
				at := loc.Offset - first.Offset
				e := pack.Entry{ID: ids[i], Offset: loc.Offset, Length: loc.Length, Checksum: loc.Checksum}
				if err := pack.VerifyRecord(e, b[at:at+uint64(loc.Length)]); err != nil {
					return err
				}
			}
			return nil
		}
	}
	length := int64(last.Offset-first.Offset) + int64(last.Length)
	b, err := s.r.coder.ReadRangeInto(ctx, s.name, first.Pack, rec.Length, rec.Stores, int64(first.Offset), length, buf, check)
	if err != nil {
		return nil, fmt.Errorf("read span of %d chunks from %s: %w", len(ids), ids[0].Short(), err)
	}
	return b, nil
}
