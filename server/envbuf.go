package server

import (
	"sync"

	"github.com/holdfast-backup/holdfast/format"
)

// Envelope read buffers are pooled in size classes: a restore stream reads
// tens of thousands of envelopes, and a fresh buffer for each cost the
// server a zeroing pass over every byte it sent plus the garbage collection
// after. A buffer goes back once Send has marshaled its envelope.
var envClasses = [...]int{16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20, format.MaxEnvelopeSize}

var envPools [len(envClasses)]sync.Pool

func envClass(n int) int {
	for i, c := range envClasses {
		if n <= c {
			return i
		}
	}
	return -1
}

// getEnvelopeBuf returns an empty buffer with room for n bytes, or nil
// when n is larger than any class (the reader then allocates).
func getEnvelopeBuf(n uint32) []byte {
	i := envClass(int(n))
	if i < 0 {
		return nil
	}
	if b, ok := envPools[i].Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, envClasses[i])
}

// putEnvelopeBuf returns b to its pool if it is one of the pool's sizes.
func putEnvelopeBuf(b []byte) {
	i := envClass(cap(b))
	if i < 0 || cap(b) != envClasses[i] {
		return
	}
	b = b[:0]
	envPools[i].Put(&b)
}
