package repo

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
)

// streamFixture is a repository with chunks spread over several packs.
func streamFixture(t *testing.T) (*Repo, uint32, []chunk) {
	t.Helper()
	ctx := context.Background()
	r := openRepo(t, testConfig(t, memStores(6), 4, 2))
	t.Cleanup(func() { r.Close(ctx) })
	repoID, err := r.CreateRepository(ctx, "stream")
	if err != nil {
		t.Fatal(err)
	}
	chunks := makeChunks(t, "chunk-stream", 80, 32<<10) // ~1.3 MiB: several 256 KiB packs
	putAll(t, r, repoID, chunks)
	return r, repoID, chunks
}

// readStream reads every chunk through s with one reused buffer and
// checks the bytes.
func readStream(t *testing.T, s *ChunkStream, chunks []chunk) {
	t.Helper()
	buf := make([]byte, 0, 64<<10)
	for i, c := range chunks {
		loc, err := s.Locate(c.id)
		if err != nil {
			t.Fatalf("chunk %d: Locate: %v", i, err)
		}
		got, err := s.ReadAt(context.Background(), c.id, loc, buf)
		if err != nil {
			t.Fatalf("chunk %d: ReadAt: %v", i, err)
		}
		if !bytes.Equal(got, c.envelope) {
			t.Fatalf("chunk %d: wrong bytes", i)
		}
		if &got[0] != &buf[:1][0] {
			t.Fatalf("chunk %d: read into a new buffer, not the caller's", i)
		}
	}
}

func TestChunkStreamReads(t *testing.T) {
	r, repoID, chunks := streamFixture(t)
	s, err := r.NewChunkStream(repoID)
	if err != nil {
		t.Fatal(err)
	}
	readStream(t, s, chunks)
	if n := len(s.packs); n < 2 {
		t.Fatalf("stream remembers %d packs; the fixture spans several", n)
	}
	// Twice: the second pass reads with remembered records only.
	readStream(t, s, chunks)

	// A buffer too small is not used, and not required.
	loc, _ := s.Locate(chunks[0].id)
	if got, err := s.ReadAt(context.Background(), chunks[0].id, loc, make([]byte, 0, 1)); err != nil || !bytes.Equal(got, chunks[0].envelope) {
		t.Fatalf("small buffer: %v", err)
	}
	absent := makeChunks(t, "not stored", 1, 100)[0]
	if _, err := s.Locate(absent.id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Locate of an absent chunk: %v, want ErrNotFound", err)
	}
}

// TestChunkStreamStaleRecord plants wrong remembered pack records: reads
// must fall back to the index's record and still return the right bytes.
func TestChunkStreamStaleRecord(t *testing.T) {
	r, repoID, chunks := streamFixture(t)
	s, err := r.NewChunkStream(repoID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range chunks {
		loc, err := s.Locate(c.id)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := r.idx.GetPack(repoID, loc.Pack)
		if err != nil {
			t.Fatal(err)
		}
		// Shards placed one store further on: every shard read misses.
		for i := range rec.Stores {
			rec.Stores[i] = (rec.Stores[i] + 1) % 6
		}
		s.packs[loc.Pack] = rec
	}
	readStream(t, s, chunks)
}

// TestChunkStreamAfterRepack reads at locations found before a repack
// moved the chunks and deleted their packs.
func TestChunkStreamAfterRepack(t *testing.T) {
	r, repoID, chunks := streamFixture(t)
	s, err := r.NewChunkStream(repoID)
	if err != nil {
		t.Fatal(err)
	}
	locs := make(map[format.ID]bool)
	before := make([]indexkey.ChunkLoc, len(chunks))
	for i, c := range chunks {
		loc, err := s.Locate(c.id)
		if err != nil {
			t.Fatal(err)
		}
		before[i] = loc
		locs[loc.Pack] = true
		if _, _, err := s.pack(loc.Pack); err != nil { // remember the old records
			t.Fatal(err)
		}
	}
	var packs []format.ID
	for p := range locs {
		packs = append(packs, p)
	}
	res, err := r.Repack(context.Background(), repoID, packs, 8<<20, time.Now())
	if err != nil || res.PacksRepacked != len(packs) {
		t.Fatalf("Repack: %+v, %v", res, err)
	}
	for i, c := range chunks {
		got, err := s.ReadAt(context.Background(), c.id, before[i], nil)
		if err != nil || !bytes.Equal(got, c.envelope) {
			t.Fatalf("chunk %d after repack: %v", i, err)
		}
	}
}

// TestChunkStreamReadSpan reads runs of side-by-side chunks with one span
// read each and finds every record at its place; locations that are not
// in ascending order in one pack are refused as invalid.
func TestChunkStreamReadSpan(t *testing.T) {
	r, repoID, chunks := streamFixture(t)
	s, err := r.NewChunkStream(repoID)
	if err != nil {
		t.Fatal(err)
	}
	locs := make([]indexkey.ChunkLoc, len(chunks))
	ids := make([]format.ID, len(chunks))
	for i, c := range chunks {
		if locs[i], err = s.Locate(c.id); err != nil {
			t.Fatal(err)
		}
		ids[i] = c.id
	}
	ctx := context.Background()
	spans := 0
	for start := 0; start < len(chunks); {
		end := start + 1
		for end < len(chunks) && locs[end].Pack == locs[start].Pack {
			end++
		}
		span, err := s.ReadSpan(ctx, ids[start:end], locs[start:end], nil)
		if err != nil {
			t.Fatalf("chunks %d..%d: %v", start, end, err)
		}
		for i := start; i < end; i++ {
			at := locs[i].Offset - locs[start].Offset
			if !bytes.Equal(span[at:at+uint64(locs[i].Length)], chunks[i].envelope) {
				t.Fatalf("chunk %d: wrong bytes at its place in the span", i)
			}
		}
		spans++
		start = end
	}
	if spans < 2 || spans > len(chunks)/4 {
		t.Fatalf("%d spans for %d chunks; the fixture packs them side by side in several packs", spans, len(chunks))
	}

	var other int
	for other = 1; locs[other].Pack == locs[0].Pack; other++ {
	}
	for name, pick := range map[string][]int{"reversed": {1, 0}, "repeated": {0, 0}, "two packs": {0, other}} {
		var i2 []format.ID
		var l2 []indexkey.ChunkLoc
		for _, i := range pick {
			i2, l2 = append(i2, ids[i]), append(l2, locs[i])
		}
		if _, err := s.ReadSpan(ctx, i2, l2, nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}
