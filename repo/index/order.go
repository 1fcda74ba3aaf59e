package index

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"math/bits"
	"slices"

	"github.com/holdfast-backup/holdfast/format"
)

// sorted is one element of the sort permutation: the first 8 bytes of the
// ID (which decide almost every comparison of random IDs) and its index.
type sorted struct {
	head uint64
	i    int
}

// maxBucketBits caps the buckets of sortIDs at 65,536 (256 KiB of counts).
const maxBucketBits = 16

// smallBucket is the largest bucket sortIDs orders by insertion sort; a
// larger one (only an input of many equal or crafted IDs makes one) is
// sorted by pdqsort, so no input costs quadratic time.
const smallBucket = 16

// sortIDs fills s.order with the permutation of ids in ascending byte order.
//
// Chunk IDs are uniformly distributed keyed hashes, so one counting pass
// over their top bits, with about one bucket per ID, leaves buckets of one
// or two IDs that insertion sort finishes: three linear passes instead of
// pdqsort's n log n comparisons, which was a fifth of Missing's time for
// absent IDs.
func sortIDs(ids []format.ID, s *scratch) {
	n := len(ids)
	b := min(max(bits.Len(uint(n)), 1), maxBucketBits)
	shift := 64 - b
	s.counts = slices.Grow(s.counts[:0], 1<<b+1)[:1<<b+1]
	clear(s.counts)
	s.tmp = slices.Grow(s.tmp[:0], n)[:n]
	for i := range ids {
		h := binary.BigEndian.Uint64(ids[i][:8])
		s.tmp[i] = sorted{h, i}
		s.counts[h>>shift+1]++
	}
	for k := 1; k < len(s.counts); k++ {
		s.counts[k] += s.counts[k-1]
	}
	// counts[k] is now where bucket k starts; scattering advances it to
	// where bucket k ends (the start of bucket k+1).
	for _, o := range s.tmp {
		k := o.head >> shift
		s.order[s.counts[k]] = o
		s.counts[k]++
	}
	compare := func(a, b sorted) int {
		if c := cmp.Compare(a.head, b.head); c != 0 {
			return c
		}
		return bytes.Compare(ids[a.i][8:], ids[b.i][8:])
	}
	start := 0
	for k := 0; k < 1<<b; k++ {
		end := int(s.counts[k])
		switch bucket := s.order[start:end]; {
		case len(bucket) > smallBucket:
			slices.SortFunc(bucket, compare)
		case len(bucket) > 1:
			insertionSort(bucket, compare)
		}
		start = end
	}
}

func insertionSort(v []sorted, cmp func(a, b sorted) int) {
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && cmp(v[j-1], v[j]) > 0; j-- {
			v[j-1], v[j] = v[j], v[j-1]
		}
	}
}
