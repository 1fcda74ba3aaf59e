package index

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// tableMem is a table's fences, straddle bits and filters, in one
// anonymous mapping outside the Go heap. A table lives until the next
// rebuild, and while one is built the old one still serves: on the heap,
// two tables plus the collector's headroom (GOGC) showed up as RSS
// (measured: Go heap 138 MiB of a 370 MiB peak under steady backups at
// 10 million chunks). Unmapped when the table is released, the memory is
// back at once and is never scanned by the collector.
type tableMem struct {
	raw  []byte // the whole mapping, for munmap
	b    []byte // its huge-page-aligned part in use
	used int
}

// hugePage is the transparent huge page size on x86-64 and arm64 (4 KiB
// base pages).
const hugePage = 2 << 20

// newTableMem maps size bytes aligned to a huge page and asks for huge
// pages: the filter and fence probes hit random places of tens of MiB,
// and with 4 KiB pages nearly every probe missed the TLB (a quarter of
// the CPU of a lookup of present IDs). The advice is a hint: where huge
// pages are off, the memory is the same, only slower.
func newTableMem(size int) (*tableMem, error) {
	size = max(size, 1)
	raw, err := unix.Mmap(-1, 0, size+hugePage, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return nil, fmt.Errorf("map %d bytes for fences and filters: %w", size, err)
	}
	off := (hugePage - int(uintptr(unsafe.Pointer(&raw[0]))%hugePage)) % hugePage
	b := raw[off : off+size]
	adviseHugePages(b)
	return &tableMem{raw: raw, b: b}, nil
}

// words carves n uint64s (zeroed: the mapping is fresh) from m.
func (m *tableMem) words(n int64) []uint64 {
	if n == 0 {
		return nil
	}
	p := unsafe.Pointer(&m.b[m.used])
	m.used += int(n) * 8
	_ = m.b[m.used-1] // bounds check of the whole carve
	return unsafe.Slice((*uint64)(p), n)
}

// blocks carves n filter blocks from m.
func (m *tableMem) blocks(n int64) [][8]uint32 {
	p := unsafe.Pointer(&m.b[m.used])
	m.used += int(n) * 32
	_ = m.b[m.used-1]
	return unsafe.Slice((*[8]uint32)(p), n)
}

func (m *tableMem) free() {
	if m != nil && m.raw != nil {
		_ = unix.Munmap(m.raw)
		m.raw, m.b = nil, nil
	}
}

// memSize is the bytes tableMem must hold for a repository of n IDs.
func memSize(n, span, bits int64) int64 {
	spans := (n + span - 1) / span
	size := spans*8 + (spans+63)/64*8
	if bits > 0 {
		size += filterBlocks(n*bits) * 32
	}
	return size
}
