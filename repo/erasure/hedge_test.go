package erasure_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/erasure"
)

// stallingGets is a store whose reads, once stall is set, never answer:
// they wait for their context, as an S3 endpoint behind a partition that
// drops packets would until the client's timeouts. gets counts every Get.
type stallingGets struct {
	backend.Backend
	stall atomic.Bool
	gets  atomic.Int32
}

func (s *stallingGets) Get(ctx context.Context, name backend.Name, off, length int64) (io.ReadCloser, error) {
	s.gets.Add(1)
	if s.stall.Load() {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return s.Backend.Get(ctx, name, off, length)
}

// TestReadsHedgeAroundAStalledStore: a data shard whose store stops
// answering is rebuilt from k other shards once HedgeAfter has passed,
// the read returns the right bytes, and the reads after it go around the
// store without asking it. Healthy reads never hedge: each piece of a
// range is one Get.
func TestReadsHedgeAroundAStalledStore(t *testing.T) {
	stores, _ := localStores(t, 6)
	stalled := &stallingGets{Backend: stores[2].Backend}
	stores[2].Backend = stalled
	var counted [6]*stallingGets
	for i := range stores {
		if i != 2 {
			counted[i] = &stallingGets{Backend: stores[i].Backend}
			stores[i].Backend = counted[i]
		}
	}
	counted[2] = stalled
	logs := &logHandler{}
	const hedgeAfter = 100 * time.Millisecond
	c, err := erasure.New(stores, 4, 2, erasure.Options{HedgeAfter: hedgeAfter, Log: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	packs := variedPacks(t, rand.New(rand.NewPCG(61, 62)), 3)
	writePacks(t, c, packs)

	totalGets := func() (n int32) {
		for _, s := range counted {
			n += s.gets.Swap(0)
		}
		return n
	}
	totalGets()
	pieces := 0
	for _, p := range packs {
		for _, e := range p.entries {
			pieces += len(spansOf(c, p, e))
		}
	}
	checkAllRecords(t, c, packs, "healthy reads")
	if got := totalGets(); int(got) != pieces {
		t.Fatalf("healthy reads made %d Gets for %d pieces: they hedged", got, pieces)
	}

	stalled.stall.Store(true)
	start := time.Now()
	checkAllRecords(t, c, packs, "reads with a stalled store")
	took := time.Since(start)
	if n := stalled.gets.Load(); n != 1 {
		t.Fatalf("the stalled store was asked %d times; want once, then read around", n)
	}
	if took < hedgeAfter || took > 20*hedgeAfter {
		t.Fatalf("reads with a stalled store took %s (hedge after %s)", took, hedgeAfter)
	}
	if n := logs.count(slog.LevelWarn, "slow to answer reads"); n != 1 {
		t.Fatalf("%d warnings about the slow store, want 1", n)
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
		s := &stallingGets{Backend: stores[i].Backend}
		s.stall.Store(stall[stores[i].ID])
		stores[i].Backend = s
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
	stalled := &stallingGets{Backend: stores[storeIndex(stores, packs[0].placement[0])].Backend}
	stalled.stall.Store(true)
	stores[storeIndex(stores, packs[0].placement[0])].Backend = stalled
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
	if n := stalled.gets.Load(); n != 1 {
		t.Fatalf("the stalled store was asked %d times; want once, then asked last", n)
	}
}

// silentStore is a stalled store whose availability check fails, as an
// S3 store's does when its endpoint does not answer within the check's
// timeout.
type silentStore struct{ stallingGets }

func (s *silentStore) Available() error {
	if s.stall.Load() {
		return backend.ErrUnavailable
	}
	return nil
}

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
	stalled := &silentStore{stallingGets{Backend: stores[si].Backend}}
	stalled.stall.Store(true)
	stores[si].Backend = stalled
	c, err := erasure.New(stores, 4, 2, erasure.Options{})
	if err != nil {
		t.Fatal(err)
	}
	asked := stalled.gets.Load()
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
	if n := stalled.gets.Load(); n != asked {
		t.Fatalf("scrub asked the silent store %d times", n-asked)
	}
}
