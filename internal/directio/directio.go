package directio

import (
	"time"
	"unsafe"

	"github.com/holdfast-backup/holdfast/internal/freelist"
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

// Buffers is a free list of aligned buffers of one size (see package
// freelist for why not a sync.Pool). Once no buffer has come back for
// BuffersIdle, it lets them all go, so that an idle process does not hold
// them.
type Buffers struct {
	size int
	list freelist.List[[]byte]
}

// BuffersIdle is how long Buffers keeps its buffers after the last Put.
const BuffersIdle = time.Minute

// NewBuffers returns a free list of buffers of size bytes that keeps at
// most keep of them.
func NewBuffers(size, keep int) *Buffers {
	return newBuffers(size, keep, BuffersIdle)
}

func newBuffers(size, keep int, idle time.Duration) *Buffers {
	return &Buffers{size: size, list: freelist.List[[]byte]{Keep: keep, Idle: idle}}
}

// Get returns a kept buffer, or a new one.
func (b *Buffers) Get() []byte {
	if buf, ok := b.list.Get(); ok {
		return buf
	}
	return Buffer(b.size)
}

// Put keeps buf for a later Get, unless the list is full.
func (b *Buffers) Put(buf []byte) { b.list.Put(buf[:b.size:b.size]) }

// kept returns how many buffers are kept (tests).
func (b *Buffers) kept() int { return b.list.Len() }
