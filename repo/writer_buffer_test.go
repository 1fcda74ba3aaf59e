package repo

import (
	"context"
	"testing"
)

// TestWriterPackBuffers checks where the open pack's buffer comes from: a
// pack starts with a buffer of the full target size (no growth by
// doubling), and a repository that went idle after a flush holds none, so
// a server with many repositories does not pin a pack buffer per
// repository.
func TestWriterPackBuffers(t *testing.T) {
	ctx := context.Background()
	r := openRepo(t, testConfig(t, memStores(3), 2, 1))
	defer r.Close(ctx)
	target := r.cfg.PackTarget
	var ids []uint32
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		id, err := r.CreateRepository(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	openCap := func(id uint32) int {
		w, err := r.writer(id)
		if err != nil {
			t.Fatal(err)
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.builder.Cap()
	}
	for i, id := range ids {
		chunks := makeChunks(t, string(rune('a'+i)), 3, 16<<10)
		if _, err := r.PutChunk(ctx, id, chunks[0].id, chunks[0].envelope); err != nil {
			t.Fatal(err)
		}
		if c := openCap(id); c < target {
			t.Fatalf("repository %d: open pack buffer of %d bytes, want the target %d at once", id, c, target)
		}
		putAll(t, r, id, chunks[1:])
		if c := openCap(id); c >= target {
			t.Fatalf("repository %d idle after a flush still holds a %d-byte pack buffer", id, c)
		}
	}
	// Reads still find everything, and later puts still work.
	for i, id := range ids {
		chunks := makeChunks(t, string(rune('a'+i)), 3, 16<<10)
		mustReadAll(t, r, id, chunks)
		more := makeChunks(t, "more"+string(rune('a'+i)), 2, 16<<10)
		putAll(t, r, id, more)
		mustReadAll(t, r, id, more)
	}
}
