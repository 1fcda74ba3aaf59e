package repo

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/repo/backend/faulty"
	"github.com/holdfast-backup/holdfast/repo/backend/mem"
	"github.com/holdfast-backup/holdfast/repo/erasure"
)

// crashWorkload uploads two snapshots' worth of chunks (several packs) and
// commits them, stopping at the first error as a crashing server would. It
// returns the snapshots whose commit was acknowledged.
func crashWorkload(ctx context.Context, r *Repo, repoID uint32, sets [][]chunk, headers [][]byte, refs [][]format.ID) map[format.ID][]chunk {
	acked := map[format.ID][]chunk{}
	for i, set := range sets {
		for _, c := range set {
			if _, err := r.PutChunk(ctx, repoID, c.id, c.envelope); err != nil {
				return acked
			}
		}
		id, err := r.CommitSnapshot(ctx, repoID, headers[i], RefsFromSlice(refs[i]))
		if err != nil {
			return acked
		}
		acked[id] = set
	}
	return acked
}

// TestCrashAtEveryStoreOperation fails the n-th operation of each store in
// turn, for every n the workload reaches, "crashes" the engine right there
// (index closed, open pack lost), reopens it on healthy stores, and checks:
// every acknowledged snapshot reads back bit-exact, no index entry dangles,
// and after a repairing scrub every pack is whole.
func TestCrashAtEveryStoreOperation(t *testing.T) {
	ctx := context.Background()
	sets := [][]chunk{makeChunks(t, "crash-a", 24, 40<<10), makeChunks(t, "crash-b", 24, 40<<10)}
	sets[1] = append(sets[1], sets[0][:8]...) // the second snapshot shares chunks with the first
	var headers [][]byte
	var refs [][]format.ID
	for i, set := range sets {
		h, ids := headerFor(t, set, fmt.Sprintf("host-%d", i))
		headers, refs = append(headers, h), append(refs, ids)
	}

	const nStores, k, m = 3, 2, 1
	counts := countOps(t, nStores, k, m, sets, headers, refs)
	rounds := 0
	for victim := 0; victim < nStores; victim++ {
		for n := 0; n < counts[victim]; n++ {
			rounds++
			t.Run(fmt.Sprintf("store%d-op%d", victim, n), func(t *testing.T) {
				healthy := memStores(nStores)
				wrapped := append([]erasure.Store(nil), healthy...)
				fb := faulty.Wrap(healthy[victim].Backend, faulty.OnIndex(n, faulty.OpAll))
				wrapped[victim] = erasure.Store{ID: uint16(victim), Backend: fb}

				cfg := testConfig(t, wrapped, k, m)
				r := openRepo(t, cfg)
				repoID, err := r.CreateRepository(ctx, "crash")
				if err != nil {
					t.Fatal(err)
				}
				acked := crashWorkload(ctx, r, repoID, sets, headers, refs)
				r.crash()
				if fb.Fired() == 0 {
					t.Fatalf("injector never fired (plan %s)", fb)
				}

				cfg.Stores = healthy
				r = openRepo(t, cfg)
				defer r.Close(ctx)
				checkAfterCrash(t, r, repoID, acked)
			})
		}
	}
	if rounds < 20 {
		t.Fatalf("only %d crash points; the workload is too small to mean anything", rounds)
	}
}

// countOps runs the workload on bare wrappers and returns how many
// operations each store saw.
func countOps(t *testing.T, nStores, k, m int, sets [][]chunk, headers [][]byte, refs [][]format.ID) []int {
	ctx := context.Background()
	var stores []erasure.Store
	var wrappers []*faulty.Backend
	for i := 0; i < nStores; i++ {
		fb := faulty.Wrap(mem.New())
		wrappers = append(wrappers, fb)
		stores = append(stores, erasure.Store{ID: uint16(i), Backend: fb})
	}
	r := openRepo(t, testConfig(t, stores, k, m))
	repoID, err := r.CreateRepository(ctx, "crash")
	if err != nil {
		t.Fatal(err)
	}
	if acked := crashWorkload(ctx, r, repoID, sets, headers, refs); len(acked) != len(sets) {
		t.Fatalf("workload fails without faults: %d of %d snapshots", len(acked), len(sets))
	}
	r.crash()
	counts := make([]int, nStores)
	for i, w := range wrappers {
		counts[i] = w.Count()
	}
	return counts
}

func checkAfterCrash(t *testing.T, r *Repo, repoID uint32, acked map[format.ID][]chunk) {
	t.Helper()
	ctx := context.Background()
	for id, set := range acked {
		if _, err := r.GetSnapshot(ctx, repoID, id); err != nil {
			t.Fatalf("acknowledged snapshot %s lost: %v", id.Short(), err)
		}
		mustReadAll(t, r, repoID, set)
	}
	// Every chunk the index knows reads back and verifies: nothing dangles.
	err := r.Index().Chunks(repoID, func(id format.ID, _ indexkey.ChunkLoc) error {
		if _, err := r.ReadChunk(ctx, repoID, id); err != nil {
			return fmt.Errorf("index entry %s: %w", id.Short(), err)
		}
		return nil
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	rep, err := r.Scrub(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Healthy() {
		t.Fatalf("scrub after crash: %+v", rep)
	}
}
