package repo

import (
	"context"
	"slices"
	"testing"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/backend/faulty"
)

// TestScrubMovesRedirectedShardsHome: packs written while a store refused
// puts have shards elsewhere; once the store takes writes again, scrub
// with repair moves each such shard back to the store Place chose, records
// it, and deletes the old copy, so every store ends up with one shard per
// pack and every chunk still reads. Scrub without repair moves nothing, and
// while the store still refuses, repair leaves the shards where they are.
func TestScrubMovesRedirectedShardsHome(t *testing.T) {
	ctx := context.Background()
	stores, _ := localStores(t, 6)
	cfg := testConfig(t, stores, 4, 2)
	healthy := stores[2].Backend
	broken := cfg
	broken.Stores = slices.Clone(stores)
	broken.Stores[2].Backend = faulty.Wrap(healthy, faulty.Always(faulty.OpPut).ENOSPC())

	r := openRepo(t, broken)
	repoID, err := r.CreateRepository(ctx, "zeta")
	if err != nil {
		t.Fatal(err)
	}
	chunks := makeChunks(t, "rehome", 60, 48<<10)
	putAll(t, r, repoID, chunks)
	if r.Stats().RedirectedShards == 0 {
		t.Fatal("no shard was redirected with a store refusing puts")
	}
	if rep, err := r.Scrub(ctx, true); err != nil || rep.ShardsMovedHome != 0 || !rep.Healthy() {
		t.Fatalf("scrub with the store still refusing: %+v, %v", rep, err)
	}
	r.Close(ctx)

	r = openRepo(t, cfg)
	defer r.Close(ctx)
	misplaced := countMisplaced(t, r, repoID)
	if misplaced == 0 {
		t.Fatal("no pack records a redirected shard")
	}
	if rep, err := r.Scrub(ctx, false); err != nil || rep.ShardsMovedHome != 0 {
		t.Fatalf("scrub without repair: %+v, %v", rep, err)
	}
	rep, err := r.Scrub(ctx, true)
	if err != nil || !rep.Healthy() || rep.ShardsMovedHome != misplaced {
		t.Fatalf("scrub with repair: %+v, %v; want %d shards moved home", rep, err, misplaced)
	}
	if n := countMisplaced(t, r, repoID); n != 0 {
		t.Fatalf("%d shards still off their stores after repair", n)
	}
	packs := 0
	if err := r.idx.Packs(repoID, func(format.ID, indexkey.PackRecord) error { packs++; return nil }); err != nil {
		t.Fatal(err)
	}
	for i, s := range stores {
		if n := countShardObjects(t, s.Backend); n != packs {
			t.Fatalf("store %d holds %d shard objects for %d packs", i, n, packs)
		}
	}
	mustReadAll(t, r, repoID, chunks)
	if rep, err := r.Scrub(ctx, true); err != nil || !rep.Healthy() || rep.ShardsMovedHome+rep.ShardsRepair+rep.ShardsMissing != 0 {
		t.Fatalf("scrub after the move: %+v, %v", rep, err)
	}
}

// countMisplaced counts the shards whose recorded store is not Place's.
func countMisplaced(t *testing.T, r *Repo, repoID uint32) int {
	t.Helper()
	n := 0
	err := r.idx.Packs(repoID, func(id format.ID, p indexkey.PackRecord) error {
		for i, s := range r.coder.Place(id) {
			if p.Stores[i] != s {
				n++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// countShardObjects counts the pack shard objects on a store.
func countShardObjects(t *testing.T, b backend.Backend) int {
	t.Helper()
	n := 0
	err := b.List(context.Background(), "zeta/packs/", func(backend.Info) error { n++; return nil })
	if err != nil {
		t.Fatal(err)
	}
	return n
}
