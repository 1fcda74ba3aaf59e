package erasure_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/holdfast-backup/holdfast/format/shard"
	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/backend/s3"
	"github.com/holdfast-backup/holdfast/repo/backend/s3/s3test"
	"github.com/holdfast-backup/holdfast/repo/erasure"
)

// TestS3 runs the erasure round trip on six stores that are six prefixes of
// one bucket on a real S3 server: a store is lost by deleting its objects,
// reads survive any two lost stores and bit rot, and scrub puts it all back.
func TestS3(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	ctx := context.Background()
	bucket := srv.NewBucket(t, false)
	var stores []erasure.Store
	for i := range 6 {
		b, err := s3.New(ctx, srv.Config(bucket, fmt.Sprintf("store%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, erasure.Store{ID: uint16(i + 1), Backend: b})
	}
	c, dl := newCoder(t, stores, 4, 2)
	rng := rand.New(rand.NewPCG(26, 27))
	packs := variedPacks(t, rng, 8)
	writePacks(t, c, packs)
	checkAllRecords(t, c, packs, "s3 healthy")

	wipe := func(b backend.Backend) int {
		var names []backend.Name
		if err := b.List(ctx, shard.Prefix(testRepo), func(i backend.Info) error {
			names = append(names, i.Name)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if err := b.Delete(ctx, n); err != nil {
				t.Fatal(err)
			}
		}
		return len(names)
	}
	for _, pair := range [][2]int{{0, 1}, {2, 5}, {3, 4}} {
		lost := wipe(stores[pair[0]].Backend) + wipe(stores[pair[1]].Backend)
		if lost != 2*len(packs) {
			t.Fatalf("stores %v held %d shards, want %d", pair, lost, 2*len(packs))
		}
		checkAllRecords(t, c, packs, fmt.Sprintf("s3 stores %v gone", pair))
		repaired := 0
		for pi, p := range packs {
			h, err := c.ScrubPack(ctx, testRepo, p.id, p.len(), p.placement, true)
			if err != nil || h.Lost || h.Good != 4 || h.Missing != 2 {
				t.Fatalf("pack %d: scrub: %+v, %v", pi, h, err)
			}
			repaired += h.Repaired
		}
		if repaired != lost {
			t.Fatalf("repaired %d shards, want %d", repaired, lost)
		}
		for _, d := range dl.take() {
			if d.Reason != erasure.ReasonMissing || (d.Store != stores[pair[0]].ID && d.Store != stores[pair[1]].ID) {
				t.Fatalf("unexpected damage %+v", d)
			}
		}
	}

	// Bit rot: rewrite one data and one parity shard of each pack with a
	// flipped byte.
	for _, p := range packs {
		for _, i := range []int{rng.IntN(4), 4 + rng.IntN(2)} {
			b := stores[storeIndex(stores, p.placement[i])].Backend
			name := backend.Name(shard.ObjectName(testRepo, p.id, i))
			obj, err := backend.ReadAll(ctx, b, name, 0, -1)
			if err != nil {
				t.Fatal(err)
			}
			obj[rng.IntN(len(obj))] ^= 0x40
			if err := b.Put(ctx, name, backend.Bytes(obj)); err != nil {
				t.Fatal(err)
			}
		}
	}
	checkAllRecords(t, c, packs, "s3 bit rot")
	for pi, p := range packs {
		h, err := c.ScrubPack(ctx, testRepo, p.id, p.len(), p.placement, true)
		if err != nil || h != (erasure.PackHealth{Good: 4, Corrupt: 2, Repaired: 2}) {
			t.Fatalf("pack %d: scrub after rot: %+v, %v", pi, h, err)
		}
		if h, err := c.ScrubPack(ctx, testRepo, p.id, p.len(), p.placement, false); err != nil || h != (erasure.PackHealth{Good: 6}) {
			t.Fatalf("pack %d: scrub after repair: %+v, %v", pi, h, err)
		}
		got, err := c.ReadPack(ctx, testRepo, p.id, p.len(), p.placement)
		if err != nil || !bytes.Equal(got, p.data) {
			t.Fatalf("pack %d: ReadPack: %v", pi, err)
		}
	}
}

// TestS3StoreDownWritesGoAround: with one of six S3 stores unreachable
// (its endpoint refuses connections), packs are still written, that
// store's shards on the others, and read back from the placement
// returned; later packs pass the store over without waiting for it.
func TestS3StoreDownWritesGoAround(t *testing.T) {
	srv := s3test.Start(t, s3test.Options{})
	ctx := context.Background()
	bucket := srv.NewBucket(t, false)
	var stores []erasure.Store
	for i := range 6 {
		cfg := srv.Config(bucket, fmt.Sprintf("store%d", i))
		if i == 2 {
			cfg.Endpoint = "http://127.0.0.1:1" // nothing listens there
		}
		b, err := s3.New(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		stores = append(stores, erasure.Store{ID: uint16(i + 1), Backend: b})
	}
	c, _ := newCoder(t, stores, 4, 2)
	packs := variedPacks(t, rand.New(rand.NewPCG(28, 29)), 6)
	for i, p := range packs {
		start := time.Now()
		pl, err := c.WritePack(ctx, testRepo, p.id, p.data)
		if err != nil {
			t.Fatalf("pack %d with a store down: %v", i, err)
		}
		if slices.Contains(pl, stores[2].ID) {
			t.Fatalf("pack %d placed a shard on the unreachable store: %v", i, pl)
		}
		if i > 0 && time.Since(start) > 10*time.Second {
			t.Fatalf("pack %d took %s: the unreachable store was not passed over", i, time.Since(start))
		}
		t.Logf("pack %d: %s", i, time.Since(start))
		p.placement = pl
	}
	checkAllRecords(t, c, packs, "s3 with a store down")
}
