package repo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/holdfast-backup/holdfast/format"
)

// TestDeleteSnapshotAndRebuild deletes a snapshot and checks that
// rebuild-index does not bring it back, while a deletion interrupted after
// the index batch (objects still on the stores) is undone by a rebuild: the
// safe direction.
func TestDeleteSnapshotAndRebuild(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig(t, memStores(3), 2, 1)
	r := openRepo(t, cfg)
	repoID, err := r.CreateRepository(ctx, "delta")
	if err != nil {
		t.Fatal(err)
	}
	var snaps []format.ID
	for i := range 3 {
		chunks := makeChunks(t, fmt.Sprint("del-", i), 5, 4<<10)
		putAll(t, r, repoID, chunks)
		h, refs := headerFor(t, chunks, fmt.Sprint("h", i))
		id, err := r.CommitSnapshot(ctx, repoID, h, RefsFromSlice(refs))
		if err != nil {
			t.Fatal(err)
		}
		snaps = append(snaps, id)
	}
	if err := r.DeleteSnapshot(ctx, repoID, snaps[0]); err != nil {
		t.Fatal(err)
	}
	if err := r.DeleteSnapshot(ctx, repoID, snaps[0]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	// A crash right after the index batch of a second deletion.
	b := r.idx.NewBatch()
	b.DeleteSnapshot(repoID, snaps[1])
	if err := b.Commit(true); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := RebuildIndex(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Snapshots != 2 {
		t.Fatalf("rebuild found %d snapshots, want 2 (the interrupted deletion undone)", rep.Snapshots)
	}
	r = openRepo(t, cfg)
	defer r.Close(ctx)
	if _, err := r.GetSnapshot(ctx, repoID, snaps[0]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted snapshot after rebuild: %v", err)
	}
	if _, err := r.GetSnapshot(ctx, repoID, snaps[1]); err != nil {
		t.Fatalf("interrupted deletion after rebuild: %v", err)
	}
}

// TestSnapshotsAfter pages through snapshots.
func TestSnapshotsAfter(t *testing.T) {
	ctx := context.Background()
	r := openRepo(t, testConfig(t, memStores(3), 2, 1))
	defer r.Close(ctx)
	repoID, _ := r.CreateRepository(ctx, "epsilon")
	chunks := makeChunks(t, "page", 3, 1000)
	putAll(t, r, repoID, chunks)
	var want []format.ID
	for i := range 7 {
		h, refs := headerFor(t, chunks, fmt.Sprint("host", i))
		id, err := r.CommitSnapshot(ctx, repoID, h, RefsFromSlice(refs))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
	}
	slices.SortFunc(want, format.ID.Compare)
	var got []format.ID
	var after format.ID
	for pages := 0; ; pages++ {
		n := 0
		err := r.SnapshotsAfter(ctx, repoID, after, 3, func(s Snapshot) error {
			got = append(got, s.ID)
			after = s.ID
			n++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 || pages > 5 {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged %d snapshots, want %d in order", len(got), len(want))
	}
}
