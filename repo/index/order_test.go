package index

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/holdfast-backup/holdfast/format"
)

// TestSortIDs checks the permutation against a plain sort for random IDs,
// duplicates, and crafted IDs that share their top bits (one huge bucket)
// or differ only after the first 8 bytes.
func TestSortIDs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(id *format.ID) {
		for i := range id {
			id[i] = byte(rng.Uint32())
		}
	}
	cases := map[string]func(i int, id *format.ID){
		"random": func(_ int, id *format.ID) { random(id) },
		"duplicates": func(i int, id *format.ID) {
			random(id)
			id[0], id[1] = byte(i%3), 0 // three values, many copies
			clear(id[2:])
		},
		"same head": func(_ int, id *format.ID) {
			random(id)
			copy(id[:8], "samehead")
		},
		"same top bits": func(_ int, id *format.ID) {
			random(id)
			id[0], id[1] = 0xff, 0xff
		},
	}
	for name, fill := range cases {
		for _, n := range []int{0, 1, 2, 3, 17, 1000, 70000} {
			ids := make([]format.ID, n)
			for i := range ids {
				fill(i, &ids[i])
			}
			s := new(scratch)
			s.order = make([]sorted, n)
			sortIDs(ids, s)
			seen := make([]bool, n)
			for k, o := range s.order {
				if seen[o.i] {
					t.Fatalf("%s/%d: index %d twice", name, n, o.i)
				}
				seen[o.i] = true
				if k > 0 && bytes.Compare(ids[s.order[k-1].i][:], ids[o.i][:]) > 0 {
					t.Fatalf("%s/%d: out of order at %d", name, n, k)
				}
			}
		}
	}
}

func BenchmarkSortIDs(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	ids := make([]format.ID, 10000)
	for i := range ids {
		for j := range ids[i] {
			ids[i][j] = byte(rng.Uint32())
		}
	}
	s := new(scratch)
	s.order = make([]sorted, len(ids))
	for b.Loop() {
		sortIDs(ids, s)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ids)), "ns/ID")
}
