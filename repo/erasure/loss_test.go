package erasure_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/holdfast-backup/holdfast/repo/erasure"
)

// TestTwoStoresGone removes every pair of the 6 stores in turn; every record
// of every pack still reads bit-exact, and the loss is reported: as
// unavailable when the store's directory is gone, as missing when an empty
// directory took its place (a replaced disk).
func TestTwoStoresGone(t *testing.T) {
	stores, dirs := localStores(t, 6)
	c, dl := newCoder(t, stores, 4, 2)
	packs := variedPacks(t, rand.New(rand.NewPCG(1, 2)), 20)
	writePacks(t, c, packs)

	// The packs must exercise tiny packs and records across shard edges.
	tiny, straddle := 0, 0
	for _, p := range packs {
		if p.len() < int64(c.K()*64) {
			tiny++
		}
		for _, e := range p.entries {
			if len(spansOf(c, p, e)) > 1 {
				straddle++
			}
		}
	}
	if tiny < 3 || straddle < 10 {
		t.Fatalf("test packs too tame: %d tiny packs, %d straddling records", tiny, straddle)
	}
	checkAllRecords(t, c, packs, "healthy")
	if d := dl.take(); len(d) != 0 {
		t.Fatalf("healthy reads reported damage: %v", d)
	}

	for a := range stores {
		for b := a + 1; b < len(stores); b++ {
			remove, reason := hide, erasure.ReasonUnavailable
			if (a+b)%2 == 1 {
				remove, reason = wipe, erasure.ReasonMissing
			}
			restoreA := remove(t, dirs[a])
			restoreB := remove(t, dirs[b])
			checkAllRecords(t, c, packs, "stores gone")
			for _, p := range packs {
				got, err := c.ReadPack(context.Background(), testRepo, p.id, p.len(), p.placement)
				if err != nil || !bytes.Equal(got, p.data) {
					t.Fatalf("stores %d+%d gone: ReadPack: %v", a, b, err)
				}
			}
			ds := dl.take()
			if len(ds) == 0 {
				t.Fatalf("stores %d+%d gone: no damage reported", a, b)
			}
			for _, d := range ds {
				if d.Reason != reason || (d.Store != stores[a].ID && d.Store != stores[b].ID) || d.Repo != testRepo {
					t.Fatalf("stores %d+%d gone: unexpected damage %+v", a, b, d)
				}
			}
			restoreA()
			restoreB()
		}
	}
}

// TestThreeStoresGone: with more than m shards gone, reads never return
// wrong bytes and never panic. A record whose data shards are all still
// there reads (the fast path needs nothing else); every other read fails
// with ErrUnrecoverable. Scrub reports the packs lost.
func TestThreeStoresGone(t *testing.T) {
	stores, dirs := localStores(t, 6)
	c, _ := newCoder(t, stores, 4, 2)
	packs := variedPacks(t, rand.New(rand.NewPCG(3, 4)), 12)
	writePacks(t, c, packs)
	ctx := context.Background()

	failed := 0
	for a := range stores {
		for b := a + 1; b < len(stores); b++ {
			for x := b + 1; x < len(stores); x++ {
				gone := map[uint16]bool{stores[a].ID: true, stores[b].ID: true, stores[x].ID: true}
				restore := []func(){hide(t, dirs[a]), hide(t, dirs[b]), hide(t, dirs[x])}
				for pi, p := range packs {
					for ei, e := range p.entries {
						present := true
						for _, s := range spansOf(c, p, e) {
							present = present && !gone[p.placement[s.Index]]
						}
						got, err := readRecord(c, p, e)
						switch {
						case err == nil && (!present || !bytes.Equal(got, p.record(e))):
							t.Fatalf("pack %d record %d: read gave bytes with a data shard gone", pi, ei)
						case err != nil && (present || !isUnrecoverable(err) || got != nil):
							t.Fatalf("pack %d record %d: %v (data shards present: %v)", pi, ei, err, present)
						case err != nil && !strings.Contains(err.Error(), "on unavailable stores"):
							t.Fatalf("pack %d record %d: %v does not say that stores are unavailable", pi, ei, err)
						case err != nil:
							failed++
						}
					}
					if _, err := c.ReadPack(ctx, testRepo, p.id, p.len(), p.placement); !isUnrecoverable(err) {
						t.Fatalf("pack %d: ReadPack: %v, want ErrUnrecoverable", pi, err)
					}
					for _, repair := range []bool{false, true} {
						h, err := c.ScrubPack(ctx, testRepo, p.id, p.len(), p.placement, repair)
						want := erasure.PackHealth{Good: 3, Unavailable: 3, Lost: true}
						if err != nil || h != want {
							t.Fatalf("pack %d: scrub (repair %v): %+v, %v; want %+v", pi, repair, h, err, want)
						}
					}
				}
				for _, f := range restore {
					f()
				}
			}
		}
	}
	if failed == 0 {
		t.Fatal("no read failed")
	}
	t.Logf("%d reads failed with ErrUnrecoverable", failed)
}

// TestScrubWithAStoreGone: with one store's directory gone, a repairing
// scrub finishes, counts that store's shards unavailable and writes
// nothing there (a Put would fail, and the shards may be intact on the
// unmounted disk); the other damage is still repaired. With an empty
// directory in its place (a replaced disk) the shards are missing and are
// rebuilt onto it. Before, the failed Put onto the gone store ended the
// scrub at the first pack.
func TestScrubWithAStoreGone(t *testing.T) {
	stores, dirs := localStores(t, 6)
	c, _ := newCoder(t, stores, 4, 2)
	packs := variedPacks(t, rand.New(rand.NewPCG(5, 6)), 6)
	writePacks(t, c, packs)
	ctx := context.Background()

	restore := hide(t, dirs[0])
	// Also lose, on another store, one shard of the first pack.
	victim := 0
	for i, id := range packs[0].placement {
		if id != stores[0].ID {
			victim = i
			break
		}
	}
	if err := os.Remove(shardFile(dirs, stores, packs[0], victim)); err != nil {
		t.Fatal(err)
	}
	for pi, p := range packs {
		away := 0
		for _, id := range p.placement {
			if id == stores[0].ID {
				away++
			}
		}
		h, err := c.ScrubPack(ctx, testRepo, p.id, p.len(), p.placement, true)
		want := erasure.PackHealth{Good: 6 - away, Unavailable: away}
		if pi == 0 {
			want.Good--
			want.Missing, want.Repaired = 1, 1
		}
		if err != nil || h != want {
			t.Fatalf("pack %d with store 0 gone: %+v, %v; want %+v", pi, h, err, want)
		}
	}
	if _, err := os.Stat(dirs[0]); !os.IsNotExist(err) {
		t.Fatalf("scrub created the gone store's directory: %v", err)
	}
	restore()

	// A replaced disk: its shards are missing and rebuilt onto it.
	wipe(t, dirs[1]) // not undone: the directory gets the rebuilt shards
	for pi, p := range packs {
		h, err := c.ScrubPack(ctx, testRepo, p.id, p.len(), p.placement, true)
		if err != nil || h.Unavailable != 0 || h.Missing == 0 || h.Repaired != h.Missing {
			t.Fatalf("pack %d on a replaced disk: %+v, %v; want its shards missing and repaired", pi, h, err)
		}
	}
	checkAllRecords(t, c, packs, "after repairing onto the replaced disk")
	if n := countObjects(t, stores[1].Backend); n == 0 {
		t.Fatal("nothing was rebuilt onto the replaced disk")
	}
}
