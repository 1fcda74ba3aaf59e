package erasure_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/shard"
	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/erasure"
)

// TestLayouts writes and reads packs under several k+m, including m = 0
// and k = 1, with one data store gone where m allows.
func TestLayouts(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 19))
	packs := variedPacks(t, rng, 8)
	for _, km := range [][2]int{{1, 0}, {1, 1}, {2, 1}, {3, 0}, {5, 3}, {10, 4}} {
		k, m := km[0], km[1]
		stores, dirs := localStores(t, k+m)
		c, _ := newCoder(t, stores, k, m)
		writePacks(t, c, packs)
		checkAllRecords(t, c, packs, "healthy")
		if m == 0 {
			continue
		}
		restore := hide(t, dirs[0])
		checkAllRecords(t, c, packs, "one store gone")
		for _, p := range packs {
			got, err := c.ReadPack(context.Background(), testRepo, p.id, p.len(), p.placement)
			if err != nil || !bytes.Equal(got, p.data) {
				t.Fatalf("%d+%d: ReadPack: %v", k, m, err)
			}
		}
		restore()
	}
}

func TestDeletePack(t *testing.T) {
	stores, _ := localStores(t, 6)
	c, _ := newCoder(t, stores, 4, 2)
	packs := variedPacks(t, rand.New(rand.NewPCG(20, 21)), 3)
	writePacks(t, c, packs)
	ctx := context.Background()
	p := packs[1]
	// One shard already gone is fine.
	b := stores[storeIndex(stores, p.placement[3])].Backend
	if err := b.Delete(ctx, backend.Name(shard.ObjectName(testRepo, p.id, 3))); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := c.DeletePack(ctx, testRepo, p.id, p.placement); err != nil {
			t.Fatal(err)
		}
	}
	total := 0
	for _, s := range stores {
		total += countObjects(t, s.Backend)
	}
	if total != 12 {
		t.Fatalf("%d shard objects left, want the 12 of the other two packs", total)
	}
	if _, err := c.ReadPack(ctx, testRepo, p.id, p.len(), p.placement); !isUnrecoverable(err) {
		t.Fatalf("ReadPack of a deleted pack: %v", err)
	}
	if err := c.DeletePack(ctx, testRepo, p.id, p.placement[:5]); !errors.Is(err, erasure.ErrPlacement) {
		t.Fatalf("DeletePack with a short placement: %v", err)
	}
}

// TestListShards finds every shard of every pack, on the store that holds
// it, and skips objects that are not shards.
func TestListShards(t *testing.T) {
	stores, _ := localStores(t, 7)
	c, _ := newCoder(t, stores, 4, 2)
	packs := variedPacks(t, rand.New(rand.NewPCG(22, 23)), 10)
	writePacks(t, c, packs)
	ctx := context.Background()
	stray := backend.Name(shard.Prefix(testRepo) + "ab/not-a-shard")
	if err := stores[0].Backend.Put(ctx, stray, backend.Bytes([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	found := map[format.ID][]uint16{}
	for _, s := range stores {
		err := c.ListShards(ctx, s.ID, testRepo, func(o erasure.ShardObject) error {
			if found[o.Pack] == nil {
				found[o.Pack] = make([]uint16, 6)
			}
			found[o.Pack][o.Index] = o.Store
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(found) != len(packs) {
		t.Fatalf("found %d packs, want %d", len(found), len(packs))
	}
	for _, p := range packs {
		if !slices.Equal(found[p.id], p.placement) {
			t.Fatalf("pack %s: listed placement %v, want %v", p.id.Short(), found[p.id], p.placement)
		}
	}
	stop := errors.New("stop")
	if err := c.ListShards(ctx, stores[1].ID, testRepo, func(erasure.ShardObject) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("ListShards did not return fn's error: %v", err)
	}
	if err := c.ListShards(ctx, 999, testRepo, func(erasure.ShardObject) error { return nil }); !errors.Is(err, erasure.ErrPlacement) {
		t.Fatalf("ListShards on an unknown store: %v", err)
	}
}

// TestReadArgs: bad arguments fail without touching stores or reporting
// damage; a cancelled read reports no damage either.
func TestReadArgs(t *testing.T) {
	stores, dirs := localStores(t, 6)
	c, dl := newCoder(t, stores, 4, 2)
	p := buildPack(t, rand.New(rand.NewPCG(24, 25)), []int{3000, 4000})
	writePacks(t, c, []*testPack{p})
	ctx := context.Background()
	ok := func([]byte) error { return nil }
	n := p.len()
	for _, tc := range []struct {
		name      string
		packLen   int64
		placement []uint16
		off, len  int64
		verify    func([]byte) error
		want      error
	}{
		{"empty range", n, p.placement, 0, 0, ok, erasure.ErrRange},
		{"negative offset", n, p.placement, -1, 5, ok, erasure.ErrRange},
		{"past the end", n, p.placement, n - 4, 5, ok, erasure.ErrRange},
		{"zero pack length", 0, p.placement, 0, 1, ok, erasure.ErrRange},
		{"short placement", n, p.placement[:5], 0, 5, ok, erasure.ErrPlacement},
		{"nil verify", n, p.placement, 0, 5, nil, nil},
	} {
		_, err := c.ReadRange(ctx, testRepo, p.id, tc.packLen, tc.placement, tc.off, tc.len, tc.verify)
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if got, err := c.ReadRange(ctx, testRepo, p.id, n, p.placement, 0, n, ok); err != nil || !bytes.Equal(got, p.data) {
		t.Fatalf("whole pack as a range: %v", err)
	}

	// A store this Coder does not know counts as a missing shard.
	pl := slices.Clone(p.placement)
	pl[0] = 999
	checkAllRecords(t, c, []*testPack{{id: p.id, data: p.data, entries: p.entries, placement: pl}}, "unknown store")
	if ds := dl.take(); len(ds) == 0 || ds[0].Reason != erasure.ReasonMissing || ds[0].Store != 999 {
		t.Fatalf("unknown store: damage %+v", ds)
	}

	// A verify that rejects everything never yields bytes.
	bad := errors.New("no")
	if got, err := c.ReadRange(ctx, testRepo, p.id, n, p.placement, 8, 100, func([]byte) error { return bad }); got != nil || !isUnrecoverable(err) || !errors.Is(err, bad) {
		t.Fatalf("rejecting verify: %v, %v", got, err)
	}
	dl.take()

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	restore := hide(t, dirs[storeIndex(stores, p.placement[0])])
	defer restore()
	e := p.entries[0]
	if _, err := readRecordCtx(cctx, c, p, e); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled read: %v", err)
	}
	if _, err := c.ScrubPack(cctx, testRepo, p.id, n, p.placement, true); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled scrub: %v", err)
	}
	if ds := dl.take(); len(ds) != 0 {
		t.Fatalf("cancelled operations reported damage: %+v", ds)
	}
}
