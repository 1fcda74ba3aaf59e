package index

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/holdfast-backup/holdfast/format"
)

// TestContainsID compares containsID with a scan of the span, over spans
// whose IDs share their first 8 bytes in runs (as spans do where fences
// are equal) and IDs just beside each stored one.
func TestContainsID(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 3))
	for _, n := range []int{0, 1, 2, 16, 17, 64} {
		for _, heads := range []uint64{1, 3, 1 << 62} {
			span := make([]format.ID, n)
			for i := range span {
				binary.BigEndian.PutUint64(span[i][:8], rng.Uint64N(heads))
				for j := 8; j < format.IDSize; j++ {
					span[i][j] = byte(rng.IntN(4))
				}
			}
			slices.SortFunc(span, func(a, b format.ID) int { return bytes.Compare(a[:], b[:]) })
			b := make([]byte, 0, n*format.IDSize)
			for i := range span {
				b = append(b, span[i][:]...)
			}
			var probes []format.ID
			for _, id := range span {
				probes = append(probes, id, nudge(id, -1), nudge(id, +1))
			}
			for range 50 {
				var id format.ID
				binary.BigEndian.PutUint64(id[:8], rng.Uint64N(heads+1))
				id[31] = byte(rng.IntN(4))
				probes = append(probes, id)
			}
			for _, id := range probes {
				want := slices.Contains(span, id)
				if got := containsID(b, &id); got != want {
					t.Fatalf("%d IDs, %d heads: containsID(%x) = %v, want %v", n, heads, id, got, want)
				}
			}
		}
	}
}

// nudge returns id plus d (±1) as a 256-bit big-endian number, wrapping.
func nudge(id format.ID, d int) format.ID {
	for i := format.IDSize - 1; i >= 0; i-- {
		old := id[i]
		id[i] += byte(d)
		if d > 0 && id[i] > old || d < 0 && id[i] < old {
			break
		}
	}
	return id
}

// BenchmarkContainsID: one present ID looked up in a 16-ID span, the
// work a lookup does per present ID after its read.
func BenchmarkContainsID(b *testing.B) {
	rng := rand.New(rand.NewPCG(4, 4))
	ids := randIDs(rng, minSpan)
	slices.SortFunc(ids, func(a, b format.ID) int { return bytes.Compare(a[:], b[:]) })
	span := make([]byte, 0, len(ids)*format.IDSize)
	for i := range ids {
		span = append(span, ids[i][:]...)
	}
	found := 0
	for i := 0; b.Loop(); i++ {
		if containsID(span, &ids[i%len(ids)]) {
			found++
		}
	}
	if found != b.N {
		b.Fatalf("found %d of %d", found, b.N)
	}
}
