package repo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/backend/local"
)

func markerOf(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, local.MarkerName))
	if err != nil {
		return ""
	}
	return string(b)
}

// TestStoreMarkers: Open marks every local store; a store directory that
// is empty and unmarked while the index has packs on it (the mount point of
// a disk that is not mounted) is unavailable: reads rebuild from the other
// stores, writes put its shards on the others, scrub leaves it alone and nothing is written into it.
// With the disk back it is the store again. Another store's marker (swapped
// disks) makes it unavailable too, and AdoptStore takes only an empty
// directory. Without the check, the engine filled the empty mount point.
func TestStoreMarkers(t *testing.T) {
	ctx := context.Background()
	stores, dirs := localStores(t, 6)
	cfg := testConfig(t, stores, 4, 2)
	r := openRepo(t, cfg)
	for i, d := range dirs {
		if got, want := markerOf(t, d), `{"holdfast_store":`+string(rune('0'+i))+"}\n"; got != want {
			t.Fatalf("store %d marker %q, want %q", i, got, want)
		}
	}
	repoID, _ := r.CreateRepository(ctx, "epsilon")
	chunks := makeChunks(t, "marker", 30, 48<<10)
	putAll(t, r, repoID, chunks)
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// A store from before markers (data, no marker) is marked at open.
	if err := os.Remove(filepath.Join(dirs[0], local.MarkerName)); err != nil {
		t.Fatal(err)
	}
	r = openRepo(t, cfg)
	if markerOf(t, dirs[0]) == "" {
		t.Fatal("a store with data and no marker was not marked")
	}
	r.Close(ctx)

	// Disk 2 not mounted: its mount point is an empty directory.
	if err := os.Rename(dirs[2], dirs[2]+".unmounted"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dirs[2], 0o700); err != nil {
		t.Fatal(err)
	}
	r = openRepo(t, cfg)
	mustReadAll(t, r, repoID, chunks)
	// Writes go on around the unavailable store (SPEC.md §9.8).
	more := makeChunks(t, "marker more", 30, 48<<10)
	putAll(t, r, repoID, more)
	mustReadAll(t, r, repoID, more)
	rep, err := r.Scrub(ctx, true)
	if err != nil || rep.ShardsAway == 0 || rep.ShardsRepair != 0 {
		t.Fatalf("scrub with a store's disk not mounted: %+v, %v", rep, err)
	}
	if left, _ := os.ReadDir(dirs[2]); len(left) != 0 {
		t.Fatalf("the empty mount point got %d entries", len(left))
	}
	if err := r.AdoptStore(stores[3].ID); err == nil {
		t.Fatal("AdoptStore took a store that has its marker")
	}
	if err := os.Remove(filepath.Join(dirs[3], local.MarkerName)); err != nil {
		t.Fatal(err)
	}
	if err := r.AdoptStore(stores[3].ID); err == nil {
		t.Fatal("AdoptStore took a directory that holds data")
	}
	r.Close(ctx)

	// The disk is back.
	if err := os.Remove(dirs[2]); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dirs[2]+".unmounted", dirs[2]); err != nil {
		t.Fatal(err)
	}
	r = openRepo(t, cfg)
	if rep, err := r.Scrub(ctx, false); err != nil || !rep.Healthy() || rep.ShardsAway+rep.ShardsMissing != 0 {
		t.Fatalf("scrub with the disk back: %+v, %v", rep, err)
	}
	r.Close(ctx)

	// Disks 2 and 3 swapped: each holds the other's marker.
	swapDirs(t, dirs[2], dirs[3])
	r = openRepo(t, cfg)
	defer func() { r.Close(ctx) }()
	mustReadAll(t, r, repoID, chunks)
	if rep, err := r.Scrub(ctx, true); err != nil || rep.ShardsAway == 0 || rep.ShardsRepair != 0 {
		t.Fatalf("scrub with swapped disks: %+v, %v; want their shards unavailable, nothing written", rep, err)
	}
	if err := r.AdoptStore(stores[2].ID); err == nil {
		t.Fatal("AdoptStore took a directory with another store's marker")
	}
	r.Close(ctx)
	swapDirs(t, dirs[2], dirs[3])

	// A marker that does not decode makes its store unavailable, not the
	// engine unable to open.
	if err := os.WriteFile(filepath.Join(dirs[5], local.MarkerName), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	r = openRepo(t, cfg)
	if err := r.StoreStatus()[5].Err; !errors.Is(err, backend.ErrUnavailable) {
		t.Fatalf("store with a garbled marker: %v, want unavailable", err)
	}
	mustReadAll(t, r, repoID, chunks)
}

// swapDirs exchanges two directories, as swapped disks would.
func swapDirs(t *testing.T, a, b string) {
	t.Helper()
	for _, mv := range [][2]string{{a, a + ".tmp"}, {b, a}, {a + ".tmp", b}} {
		if err := os.Rename(mv[0], mv[1]); err != nil {
			t.Fatal(err)
		}
	}
}
