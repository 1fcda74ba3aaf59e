package directio

import (
	"sync"
	"time"
	"unsafe"
)

// Align is the alignment of offsets, lengths and buffer addresses of direct
// reads and writes: the largest logical block size in use.
const Align = 4096

// AlignDown returns off rounded down to a multiple of Align.
func AlignDown(off int64) int64 { return off &^ (Align - 1) }

// AlignUp returns off rounded up to a multiple of Align.
func AlignUp(off int64) int64 { return (off + Align - 1) &^ (Align - 1) }

// Buffer returns n bytes whose address is a multiple of Align. The Go heap
// does not move objects, so the alignment holds for the slice's life.
func Buffer(n int) []byte {
	b := make([]byte, n+Align)
	skip := 0
	if rem := int(uintptr(unsafe.Pointer(&b[0])) & (Align - 1)); rem != 0 {
		skip = Align - rem
	}
	return b[skip : skip+n : skip+n]
}

// Buffers is a free list of aligned buffers of one size. Unlike a
// sync.Pool it keeps up to its capacity across garbage collections: a
// buffer allocated anew is memory the process must fault in again, which
// on a virtual machine that hands freed memory back to its host costs a
// fault into the host per page, more than the I/O the buffer saves. Once
// no buffer has come back for BuffersIdle, it lets them all go, so that an
// idle process does not hold them.
type Buffers struct {
	size int
	keep int

	mu        sync.Mutex
	free      [][]byte
	idle      *time.Timer
	idleAfter time.Duration // tests; 0 means BuffersIdle
}

// BuffersIdle is how long Buffers keeps its buffers after the last Put.
const BuffersIdle = time.Minute

// NewBuffers returns a free list of buffers of size bytes that keeps at
// most keep of them.
func NewBuffers(size, keep int) *Buffers {
	return &Buffers{size: size, keep: keep}
}

// Get returns a kept buffer, or a new one.
func (b *Buffers) Get() []byte {
	b.mu.Lock()
	if n := len(b.free); n > 0 {
		buf := b.free[n-1]
		b.free[n-1] = nil
		b.free = b.free[:n-1]
		b.mu.Unlock()
		return buf
	}
	b.mu.Unlock()
	return Buffer(b.size)
}

// Put keeps buf for a later Get, unless the list is full.
func (b *Buffers) Put(buf []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.free) < b.keep {
		b.free = append(b.free, buf[:b.size:b.size])
	}
	after := b.idleAfter
	if after == 0 {
		after = BuffersIdle
	}
	if b.idle == nil {
		b.idle = time.AfterFunc(after, b.drop)
	} else {
		b.idle.Reset(after)
	}
}

// drop lets the garbage collector have the kept buffers.
func (b *Buffers) drop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	clear(b.free)
	b.free = b.free[:0]
}

// kept returns how many buffers are kept (tests).
func (b *Buffers) kept() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.free)
}
