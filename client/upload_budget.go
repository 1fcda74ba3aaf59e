package client

import (
	"context"
	"math/bits"
	"sync"
)

// bkBudget bounds the bytes of chunks in flight between the readers and
// the upload stream (see backupPipe). acquire blocks while the budget is
// spent; a request larger than the whole budget passes when nothing else
// is in flight, so one oversized chunk can never deadlock the pipeline.
type bkBudget struct {
	mu   sync.Mutex
	max  int64
	used int64
	wake chan struct{} // closed and replaced on every release
}

func newBkBudget(max int64) *bkBudget {
	return &bkBudget{max: max, wake: make(chan struct{})}
}

func (b *bkBudget) acquire(ctx context.Context, n int64) error {
	for {
		b.mu.Lock()
		if b.used == 0 || b.used+n <= b.max {
			b.used += n
			b.mu.Unlock()
			return nil
		}
		wake := b.wake
		b.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (b *bkBudget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	close(b.wake)
	b.wake = make(chan struct{})
	b.mu.Unlock()
}

// Chunk buffers come from pools by power-of-two size class, so a long
// backup reuses a few buffers instead of allocating one per chunk.
const (
	bkMinBufClass = 12 // 4 KiB
	bkMaxBufClass = 25 // 32 MiB, above MaxEnvelopeSize
)

var bkBufPools [bkMaxBufClass + 1]sync.Pool

func bkBufClass(n int) int {
	if n <= 1<<bkMinBufClass {
		return bkMinBufClass
	}
	return bits.Len(uint(n - 1))
}

// bkGetBuf returns a buffer of length 0 and capacity at least n.
func bkGetBuf(n int) []byte {
	c := bkBufClass(n)
	if c > bkMaxBufClass {
		return make([]byte, 0, n)
	}
	if p, ok := bkBufPools[c].Get().(*[]byte); ok {
		return (*p)[:0]
	}
	return make([]byte, 0, 1<<c)
}

// bkPutBuf returns b to its pool; b must not be used afterwards.
func bkPutBuf(b []byte) {
	c := bits.Len(uint(cap(b))) - 1
	if c < bkMinBufClass || c > bkMaxBufClass || cap(b) != 1<<c {
		return
	}
	b = b[:0]
	bkBufPools[c].Put(&b)
}
