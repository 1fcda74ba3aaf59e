package index

import (
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// TestSearchFences compares searchFences with sort.Search over sorted
// fences with long runs of equal values, skewed and uniform spreads, and
// every lower bound a caller may pass.
func TestSearchFences(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 7))
	shapes := map[string]func() uint64{
		"uniform": func() uint64 { return rng.Uint64() },
		"narrow":  func() uint64 { return 1<<40 + rng.Uint64N(64) },
		"skewed": func() uint64 {
			x := rng.Uint64N(1 << 20)
			return x * x * x
		},
		"extremes": func() uint64 { return []uint64{0, 1, 1<<64 - 2, 1<<64 - 1}[rng.IntN(4)] },
	}
	for name, gen := range shapes {
		for _, n := range []int{0, 1, 2, 3, 17, 1000} {
			f := make([]uint64, n)
			for i := range f {
				f[i] = gen()
			}
			slices.Sort(f)
			heads := []uint64{0, 1, 1<<64 - 1}
			for range 200 {
				heads = append(heads, gen())
			}
			for _, x := range f {
				heads = append(heads, x, x-1, x+1)
			}
			slices.Sort(heads)
			for _, head := range heads {
				want := sort.Search(n, func(i int) bool { return f[i] > head })
				for lo := 0; lo <= want; lo += max(1, want/7) {
					if got := searchFences(f, head, lo); got != want {
						t.Fatalf("%s, %d fences: searchFences(head %#x, lo %d) = %d, want %d", name, n, head, lo, got, want)
					}
				}
				if got := searchFences(f, head, want); got != want {
					t.Fatalf("%s, %d fences: searchFences(head %#x, lo %d) = %d, want %d", name, n, head, want, got, want)
				}
			}
		}
	}
}

// BenchmarkSearchFences finds the spans of a sorted batch of 10,000 IDs
// among the fences of 10 million (625,000 spans of 16), as a Missing call
// on the presence table does: from the previous ID's span, and, for
// comparison, by a binary search over all fences.
func BenchmarkSearchFences(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	f := make([]uint64, 10_000_000/minSpan)
	for i := range f {
		f[i] = rng.Uint64()
	}
	slices.Sort(f)
	heads := make([]uint64, 10_000)
	for i := range heads {
		heads[i] = rng.Uint64()
	}
	slices.Sort(heads)
	b.Run("from-previous", func(b *testing.B) {
		for range b.N {
			lo := 0
			for _, h := range heads {
				lo = searchFences(f, h, lo)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(heads)), "ns/ID")
	})
	b.Run("binary", func(b *testing.B) {
		for range b.N {
			for _, h := range heads {
				sort.Search(len(f), func(i int) bool { return f[i] > h })
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(heads)), "ns/ID")
	})
}
