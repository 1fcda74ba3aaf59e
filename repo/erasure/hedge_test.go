package erasure_test

import (
	"bytes"
	"context"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/backend/faulty"
	"github.com/holdfast-backup/holdfast/repo/erasure"
)

// stalled wraps b so that every Get waits for its context and never
// reaches b, as a read from an S3 endpoint behind a partition that drops
// packets waits until the client's timeouts: a gate that is never
// released. Fired counts the Gets.
func stalled(b backend.Backend) *faulty.Backend {
	return faulty.Wrap(b, faulty.Always(faulty.OpGet).WaitFor(faulty.NewGate()))
}

// TestReadsHedgeAroundAStalledStore: a data shard whose store stops
// answering is rebuilt from k other shards once HedgeAfter has passed,
// the read returns the right bytes, and the reads after it go around the
// store without asking it. Healthy reads never hedge: each piece of a
// range is one Get.
func TestReadsHedgeAroundAStalledStore(t *testing.T) {
	stores, _ := localStores(t, 6)
	c0, _ := newCoder(t, stores, 4, 2)
	packs := variedPacks(t, rand.New(rand.NewPCG(61, 62)), 3)
	writePacks(t, c0, packs)
	logs := &logHandler{}
	const hedgeAfter = 100 * time.Millisecond
	var slowReads []uint16
	var mu sync.Mutex
	opts := erasure.Options{HedgeAfter: hedgeAfter, Log: slog.New(logs), OnSlowRead: func(id uint16) {
		mu.Lock()
		slowReads = append(slowReads, id)
		mu.Unlock()
	}}

	// Healthy: every piece of a range is one Get.
	healthy := slices.Clone(stores)
	var counted []*faulty.Backend
	for i := range healthy {
		fb := faulty.Wrap(healthy[i].Backend)
		healthy[i].Backend = fb
		counted = append(counted, fb)
	}
	c, err := erasure.New(healthy, 4, 2, opts)
	if err != nil {
		t.Fatal(err)
	}
	pieces := 0
	for _, p := range packs {
		for _, e := range p.entries {
			pieces += len(spansOf(c, p, e))
		}
	}
	checkAllRecords(t, c, packs, "healthy reads")
	gets := 0
	for _, fb := range counted {
		gets += fb.Count()
	}
	if gets != pieces {
		t.Fatalf("healthy reads made %d Gets for %d pieces: they hedged", gets, pieces)
	}

	silent := stalled(stores[2].Backend)
	stores[2].Backend = silent
	c, err = erasure.New(stores, 4, 2, opts)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	checkAllRecords(t, c, packs, "reads with a stalled store")
	took := time.Since(start)
	if n := silent.Fired(); n != 1 {
		t.Fatalf("the stalled store was asked %d times; want once, then read around", n)
	}
	if took < hedgeAfter || took > 20*hedgeAfter {
		t.Fatalf("reads with a stalled store took %s (hedge after %s)", took, hedgeAfter)
	}
	if n := logs.count(slog.LevelWarn, "slow to answer reads"); n != 1 {
		t.Fatalf("%d warnings about the slow store, want 1", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(slowReads, []uint16{stores[2].ID}) {
		t.Fatalf("OnSlowRead told of %v, want the stalled store %d once", slowReads, stores[2].ID)
	}
}

// TestHedgeWithTwoStalledStores: with m = 2 stores stalled, the hedge of a
// piece on one of them must not wait for the other, and when it wins the
// stalled read is stopped before the rebuilt piece is written where it
// was reading to (with -race, a read still writing there is a data race).
func TestHedgeWithTwoStalledStores(t *testing.T) {
	stores, _ := localStores(t, 6)
	c0, _ := newCoder(t, stores, 4, 2)
	packs := variedPacks(t, rand.New(rand.NewPCG(63, 64)), 2)
	writePacks(t, c0, packs)
	p := packs[0]
	// Shards 0 and 1 of the pack: a hedge for shard 0 asks the data
	// shards first, shard 1 among them.
	stall := map[uint16]bool{p.placement[0]: true, p.placement[1]: true}
	for i := range stores {
		if stall[stores[i].ID] {
			stores[i].Backend = stalled(stores[i].Backend)
		}
	}
	c, err := erasure.New(stores, 4, 2, erasure.Options{HedgeAfter: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	onShard0 := 0
	for i, e := range p.entries {
		if spansOf(c, p, e)[0].Index == 0 {
			onShard0++
		}
		got, err := readRecordCtx(ctx, c, p, e)
		if err != nil || !bytes.Equal(got, p.record(e)) {
			t.Fatalf("record %d with two stalled stores: %v", i, err)
		}
	}
	if onShard0 == 0 {
		t.Fatal("no record starts in shard 0: the test hedges nothing")
	}
}

// TestReadPackHedgesAroundAStalledStore: a whole-pack read (repack, index
// rebuild) whose data shard sits on a store that stopped answering asks
// another shard after 4 × HedgeAfter and returns the pack; the reads
// after it ask that store last.
func TestReadPackHedgesAroundAStalledStore(t *testing.T) {
	stores, _ := localStores(t, 6)
	c0, _ := newCoder(t, stores, 4, 2)
	packs := variedPacks(t, rand.New(rand.NewPCG(65, 66)), 3)
	writePacks(t, c0, packs)
	si := storeIndex(stores, packs[0].placement[0])
	silent := stalled(stores[si].Backend)
	stores[si].Backend = silent
	const hedgeAfter = 20 * time.Millisecond
	c, err := erasure.New(stores, 4, 2, erasure.Options{HedgeAfter: hedgeAfter})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, p := range packs {
		start := time.Now()
		got, err := c.ReadPack(ctx, testRepo, p.id, p.len(), p.placement)
		if err != nil || !bytes.Equal(got, p.data) {
			t.Fatalf("pack %d with a stalled store: %v", i, err)
		}
		t.Logf("pack %d: %s", i, time.Since(start))
	}
	if n := silent.Fired(); n != 1 {
		t.Fatalf("the stalled store was asked %d times; want once, then asked last", n)
	}
}

// silentStore is a stalled store whose availability check fails, as an
// S3 store's does when its endpoint does not answer within the check's
// timeout.
type silentStore struct{ *faulty.Backend }

func (s silentStore) Available() error { return backend.ErrUnavailable }

// TestScrubSkipsASilentStore: scrub asks a store's availability check
// before each shard, and counts the shards of a store that fails it
// unavailable without reading them (each read would cost the store's
// timeouts) and repairs nothing there.
func TestScrubSkipsASilentStore(t *testing.T) {
	stores, _ := localStores(t, 6)
	c0, _ := newCoder(t, stores, 4, 2)
	packs := variedPacks(t, rand.New(rand.NewPCG(67, 68)), 3)
	writePacks(t, c0, packs)
	si := storeIndex(stores, packs[0].placement[0])
	silent := silentStore{stalled(stores[si].Backend)}
	stores[si].Backend = silent
	c, err := erasure.New(stores, 4, 2, erasure.Options{})
	if err != nil {
		t.Fatal(err)
	}
	asked := silent.Fired()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, p := range packs {
		h, err := c.ScrubPack(ctx, testRepo, p.id, p.len(), p.placement, true)
		away := countPerStore(p.placement)[stores[si].ID]
		want := erasure.PackHealth{Good: 6 - away, Unavailable: away}
		if err != nil || h != want {
			t.Fatalf("scrub of pack %d: %+v, %v; want %+v", i, h, err, want)
		}
	}
	if n := silent.Fired(); n != asked {
		t.Fatalf("scrub asked the silent store %d times", n-asked)
	}
}
