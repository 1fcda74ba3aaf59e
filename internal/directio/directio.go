package directio

import "unsafe"

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
// fault into the host per page, more than the I/O the buffer saves.
type Buffers struct {
	size int
	free chan []byte
}

// NewBuffers returns a free list of buffers of size bytes that keeps at
// most keep of them.
func NewBuffers(size, keep int) *Buffers {
	return &Buffers{size: size, free: make(chan []byte, keep)}
}

// Get returns a kept buffer, or a new one.
func (b *Buffers) Get() []byte {
	select {
	case buf := <-b.free:
		return buf
	default:
		return Buffer(b.size)
	}
}

// Put keeps buf for a later Get, unless the list is full.
func (b *Buffers) Put(buf []byte) {
	select {
	case b.free <- buf[:b.size:b.size]:
	default:
	}
}
