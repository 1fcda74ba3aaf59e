package rpccodec

import (
	"sync"

	"github.com/holdfast-backup/holdfast/format"
)

// Buffers come in size classes, so a pooled buffer is at most four times
// what it holds; the largest class holds the largest envelope. A larger
// request (a PutChunks message near connect's read limit) gets a buffer
// of its own, which is not pooled.
var classes = [...]int{4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20, format.MaxEnvelopeSize}

var pools [len(classes)]sync.Pool

func classOf(n int) int {
	for i, c := range classes {
		if n <= c {
			return i
		}
	}
	return -1
}

// getBuf returns an empty buffer with room for n bytes.
func getBuf(n int) []byte {
	i := classOf(n)
	if i < 0 {
		return make([]byte, 0, n)
	}
	if b, ok := pools[i].Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, classes[i])
}

// putBuf returns b to its pool if it has a class size.
func putBuf(b []byte) {
	i := classOf(cap(b))
	if i < 0 || cap(b) != classes[i] {
		return
	}
	b = b[:0]
	pools[i].Put(&b)
}
