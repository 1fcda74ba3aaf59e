package erasure_test

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"testing"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/repo/backend/mem"
	"github.com/holdfast-backup/holdfast/repo/erasure"
)

func memStores(n int) []erasure.Store {
	var s []erasure.Store
	for i := range n {
		s = append(s, erasure.Store{ID: uint16(100 + i), Backend: mem.New()})
	}
	return s
}

// TestPlaceSpread places 10,000 random pack IDs: with at least k+m stores
// a pack's shards are on distinct stores, and every store gets within 5% of
// the mean number of shards.
func TestPlaceSpread(t *testing.T) {
	for _, tc := range []struct{ stores, k, m int }{
		{6, 4, 2}, {7, 4, 2}, {10, 4, 2}, {13, 8, 3}, {32, 10, 4}, {4, 4, 2}, {3, 2, 1},
	} {
		c, err := erasure.New(memStores(tc.stores), tc.k, tc.m, erasure.Options{})
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(uint64(tc.stores), 15))
		const packs = 10_000
		count := map[uint16]int{}
		for range packs {
			var id format.ID
			for i := range id {
				id[i] = byte(rng.Uint32())
			}
			pl := c.Place(id)
			if len(pl) != tc.k+tc.m {
				t.Fatalf("%+v: %d store IDs", tc, len(pl))
			}
			seen := map[uint16]int{}
			for _, s := range pl {
				count[s]++
				seen[s]++
			}
			perStore := (tc.k + tc.m + tc.stores - 1) / tc.stores
			for s, n := range seen {
				if n > perStore {
					t.Fatalf("%+v: store %d holds %d shards of one pack, want <= %d", tc, s, n, perStore)
				}
			}
			again := c.Place(id)
			for i := range pl {
				if pl[i] != again[i] {
					t.Fatalf("%+v: placement not deterministic", tc)
				}
			}
		}
		mean := float64(packs*(tc.k+tc.m)) / float64(tc.stores)
		if len(count) != tc.stores {
			t.Fatalf("%+v: %d stores used", tc, len(count))
		}
		worst := 0.0
		for s, n := range count {
			dev := (float64(n) - mean) / mean
			if dev > 0.05 || dev < -0.05 {
				t.Errorf("%+v: store %d has %d shards, mean %.0f (%.1f%%)", tc, s, n, mean, 100*dev)
			}
			worst = max(worst, dev, -dev)
		}
		t.Logf("%d stores, %d+%d: worst store %.2f%% from the mean", tc.stores, tc.k, tc.m, 100*worst)
	}
}

// TestFewStoresWarning: fewer stores than k+m shards is logged once per
// Coder, however many packs it places; enough stores log nothing.
func TestFewStoresWarning(t *testing.T) {
	const msg = "stores for k+m=6 shards"
	for _, tc := range []struct {
		stores, want int
	}{{1, 1}, {3, 1}, {5, 1}, {6, 0}, {9, 0}} {
		h := &logHandler{}
		c, err := erasure.New(memStores(tc.stores), 4, 2, erasure.Options{Log: slog.New(h)})
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(16, 17))
		for range 5 {
			p := buildPack(t, rng, []int{1000, 2000})
			pl, err := c.WritePack(context.Background(), testRepo, p.id, p.data)
			if err != nil {
				t.Fatal(err)
			}
			p.placement = pl
			checkAllRecords(t, c, []*testPack{p}, "few stores")
		}
		if got := h.count(slog.LevelWarn, msg); got != tc.want {
			t.Errorf("%d stores: %d warnings %q, want %d", tc.stores, got, msg, tc.want)
		}
		if got := h.count(slog.LevelWarn, ""); got != tc.want {
			t.Errorf("%d stores: %d warnings in all, want %d", tc.stores, got, tc.want)
		}
	}
}

func TestNewInvalid(t *testing.T) {
	two := memStores(2)
	dup := []erasure.Store{two[0], {ID: two[0].ID, Backend: two[1].Backend}}
	for _, tc := range []struct {
		name   string
		stores []erasure.Store
		k, m   int
		opts   erasure.Options
	}{
		{"k zero", two, 0, 2, erasure.Options{}},
		{"m negative", two, 4, -1, erasure.Options{}},
		{"too many shards", two, 30, 3, erasure.Options{}},
		{"no stores", nil, 4, 2, erasure.Options{}},
		{"duplicate ID", dup, 4, 2, erasure.Options{}},
		{"nil backend", []erasure.Store{{ID: 1}}, 4, 2, erasure.Options{}},
		{"negative parallelism", two, 4, 2, erasure.Options{Parallelism: -1}},
	} {
		if _, err := erasure.New(tc.stores, tc.k, tc.m, tc.opts); !errors.Is(err, erasure.ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", tc.name, err)
		}
	}
	for _, km := range [][2]int{{1, 0}, {32, 0}, {1, 31}, {16, 16}} {
		if _, err := erasure.New(two, km[0], km[1], erasure.Options{}); err != nil {
			t.Errorf("%d+%d: %v", km[0], km[1], err)
		}
	}
}
