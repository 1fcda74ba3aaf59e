package repo

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/backend/faulty"
)

// TestMetaCopiesGoAroundFailedStores: a meta object whose stores refuse
// puts gets its m+1 copies on the next stores of its ring; it reads back
// by name alone (as headers are read), scrub finds nothing to repair on the
// stores it names, and a delete removes the spare copies too (an index
// rebuild would otherwise bring the object back). With too few stores
// left the write fails, naming the store.
func TestMetaCopiesGoAroundFailedStores(t *testing.T) {
	ctx := context.Background()
	stores, _ := localStores(t, 6)
	const name = "delta/snapshots/spill.hdr"
	inner := make([]backend.Backend, len(stores))
	fbs := make([]*faulty.Backend, len(stores))
	for i := range stores {
		inner[i] = stores[i].Backend
		fbs[i] = faulty.Wrap(inner[i], faulty.Always(faulty.OpPut).ENOSPC())
	}
	// Fail the first two stores of the object's ring.
	probe := openRepo(t, testConfig(t, stores, 4, 2))
	ring := probe.metaRing(name)
	probe.Close(ctx)
	for _, id := range ring[:2] {
		stores[id].Backend = fbs[id]
	}
	r := openRepo(t, testConfig(t, stores, 4, 2))
	defer r.Close(ctx)
	obj := []byte("a snapshot header")
	ref, err := r.putMeta(ctx, name, backend.Bytes(obj), hashOf(obj))
	if err != nil {
		t.Fatalf("putMeta with two of its stores full: %v", err)
	}
	want := slices.Clone(ring[2:5])
	slices.Sort(want)
	if !slices.Equal(ref.Stores, want) {
		t.Fatalf("copies on stores %v, want %v", ref.Stores, want)
	}
	byName := ref
	byName.Stores = r.metaStores(name)
	if b, err := r.getMeta(ctx, byName); err != nil || string(b) != string(obj) {
		t.Fatalf("getMeta by name: %q, %v", b, err)
	}
	var rep ScrubReport
	r.scrubMeta(ctx, ref, nil, true, &rep)
	if rep.MetaRepaired != 0 || rep.MetaLost != 0 {
		t.Fatalf("scrub of the spilled copies: %+v", rep)
	}
	if err := r.deleteMeta(ctx, byName, name); err != nil {
		t.Fatal(err)
	}
	for i, b := range inner {
		if _, err := b.Stat(ctx, backend.Name(name)); !errors.Is(err, backend.ErrNotExist) {
			t.Fatalf("store %d after delete: %v, want not found", i, err)
		}
	}

	// Four of six stores full: three copies no longer fit.
	for _, id := range ring[2:4] {
		stores[id].Backend = fbs[id]
	}
	r2 := openRepo(t, testConfig(t, stores, 4, 2))
	defer r2.Close(ctx)
	if _, err := r2.putMeta(ctx, name, backend.Bytes(obj), hashOf(obj)); !errors.Is(err, backend.ErrFull) {
		t.Fatalf("putMeta with four of six stores full: %v, want ErrFull", err)
	}
}
