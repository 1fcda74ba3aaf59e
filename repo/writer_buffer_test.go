package repo

import (
	"context"
	"sync"
	"testing"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
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

// TestWriterReusesPackBuffers: a long upload from several streams at once
// allocates no more pack buffers than can be in use together (the open
// pack and the packs in flight); every later pack reuses a landed one.
// Each buffer has room for the pack's parity, which the coder writes there.
func TestWriterReusesPackBuffers(t *testing.T) {
	ctx := context.Background()
	r := openRepo(t, testConfig(t, memStores(6), 4, 2))
	defer r.Close(ctx)
	id, err := r.CreateRepository(ctx, "buffers")
	if err != nil {
		t.Fatal(err)
	}
	const streams = 4
	var all []chunk
	var wg sync.WaitGroup
	errs := make(chan error, streams)
	for s := range streams {
		chunks := makeChunks(t, "stream"+string(rune('a'+s)), 400, 16<<10)
		all = append(all, chunks...)
		wg.Go(func() {
			for _, c := range chunks {
				if _, err := r.PutChunk(ctx, id, c.id, c.envelope); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := r.Flush(ctx, id); err != nil {
		t.Fatal(err)
	}
	packs := 0
	if err := r.idx.Packs(id, func(format.ID, indexkey.PackRecord) error { packs++; return nil }); err != nil {
		t.Fatal(err)
	}
	w, err := r.writer(id)
	if err != nil {
		t.Fatal(err)
	}
	r.builders.mu.Lock()
	made := r.builders.made
	r.builders.mu.Unlock()
	for {
		b, ok := r.builders.list.Get()
		if !ok {
			break
		}
		if b.Cap() < w.bufferSize() {
			t.Errorf("a pack buffer of %d bytes has no room for the parity (want %d)", b.Cap(), w.bufferSize())
		}
	}
	if packs < 10 || made > MaxPacksInFlight+1 {
		t.Fatalf("%d packs written with %d pack buffers allocated, want at most %d", packs, made, MaxPacksInFlight+1)
	}
	mustReadAll(t, r, id, all)
}
