package client

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/holdfast-backup/holdfast/format"
)

func randomIDs(rng *rand.Rand, n int) []format.ID {
	ids := make([]format.ID, n)
	for i := range ids {
		for j := range ids[i] {
			ids[i][j] = byte(rng.Uint32())
		}
	}
	return ids
}

// TestIDSet checks has against a plain binary search, for random sets and
// for crafted ones whose IDs share their top bits.
func TestIDSet(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{0, 1, 2, 7, 1000, 50000} {
		for _, crafted := range []bool{false, true} {
			ids := randomIDs(rng, n)
			if crafted {
				for i := range ids {
					ids[i][0], ids[i][1], ids[i][2] = 0xab, 0xcd, 0xef
				}
			}
			slices.SortFunc(ids, format.ID.Compare)
			s := newIDSet(ids)
			probes := append(randomIDs(rng, 2000), ids...)
			for i := range ids {
				near := ids[i]
				near[31]++ // adjacent, almost never present
				probes = append(probes, near)
			}
			for _, id := range probes {
				_, want := slices.BinarySearchFunc(ids, id, format.ID.Compare)
				if got := s.has(id); got != want {
					t.Fatalf("n=%d crafted=%v: has(%x) = %v, want %v", n, crafted, id[:8], got, want)
				}
			}
		}
	}
}

func BenchmarkIDSet(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	ids := randomIDs(rng, 60000)
	slices.SortFunc(ids, format.ID.Compare)
	s := newIDSet(ids)
	for _, bc := range []struct {
		name string
		has  func(format.ID) bool
	}{
		{"bucketed", s.has},
		{"binary-search", func(id format.ID) bool {
			_, ok := slices.BinarySearchFunc(ids, id, format.ID.Compare)
			return ok
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				if !bc.has(ids[i]) {
					b.Fatal("missing")
				}
				i = (i + 7919) % len(ids)
			}
		})
	}
}
