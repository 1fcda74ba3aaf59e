package envbuf

import (
	"slices"
	"sync"

	"github.com/holdfast-backup/holdfast/format"
)

// MinClass is the smallest class. Smaller envelopes are better served by
// the allocator's own size classes.
const MinClass = 16 << 10

var classes = sizeClasses()

var pools = make([]sync.Pool, len(classes))

func sizeClasses() []int {
	var cs []int
	for c := MinClass; c < format.MaxEnvelopeSize; c *= 2 {
		cs = append(cs, c)
		if mid := c + c/2; mid < format.MaxEnvelopeSize {
			cs = append(cs, mid)
		}
	}
	return append(cs, format.MaxEnvelopeSize)
}

// class returns the index of the smallest class holding n bytes, or -1.
func class(n int) int {
	i, _ := slices.BinarySearch(classes, n)
	if i == len(classes) {
		return -1
	}
	return i
}

// Get returns an empty buffer with room for n bytes, or nil when n is
// larger than any class (the caller then allocates).
func Get(n int) []byte {
	i := class(n)
	if i < 0 {
		return nil
	}
	if b, ok := pools[i].Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, classes[i])
}

// Put keeps b for a later Get if its capacity is one of the classes; any
// other buffer is left to the garbage collector. The caller must not use
// b afterwards.
func Put(b []byte) {
	i := class(cap(b))
	if i < 0 || cap(b) != classes[i] {
		return
	}
	b = b[:0]
	pools[i].Put(&b)
}
