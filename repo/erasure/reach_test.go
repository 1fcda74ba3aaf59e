package erasure_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/backend/faulty"
	"github.com/holdfast-backup/holdfast/repo/erasure"
)

// TestReadsGoAroundAnUnreachableStore: once a read found a store
// unavailable, later reads rebuild its shards from the others without
// asking it (and without reporting the damage again) until UnreachableFor
// has passed; then a read asks it again. Every read is bit-exact.
func TestReadsGoAroundAnUnreachableStore(t *testing.T) {
	stores, _ := localStores(t, 6)
	c0, _ := newCoder(t, stores, 4, 2)
	packs := variedPacks(t, rand.New(rand.NewPCG(51, 52)), 4)
	writePacks(t, c0, packs)

	fb := faulty.Wrap(stores[1].Backend, faulty.Always(faulty.OpGet).Err(backend.ErrUnavailable))
	stores[1].Backend = fb
	c, dl := newCoder(t, stores, 4, 2)
	now := time.Unix(1_800_000_000, 0)
	erasure.SetClock(c, func() time.Time { return now })

	checkAllRecords(t, c, packs, "the first reads")
	asked := fb.Fired()
	if asked == 0 {
		t.Fatal("no read asked the unavailable store: the test reads nothing there")
	}
	reported := len(dl.take())
	checkAllRecords(t, c, packs, "reads while the store is read around")
	if fb.Fired() != asked {
		t.Fatalf("reads asked the unreachable store %d more times", fb.Fired()-asked)
	}
	if n := len(dl.take()); n != 0 {
		t.Fatalf("reads around the store reported %d damaged shards again (the first reads: %d)", n, reported)
	}
	now = now.Add(erasure.UnreachableFor)
	checkAllRecords(t, c, packs, "reads after UnreachableFor")
	if fb.Fired() == asked {
		t.Fatal("after UnreachableFor no read asked the store again")
	}
}
