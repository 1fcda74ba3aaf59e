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
