package hugeheap

import (
	"runtime/debug"
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugePage is the size of a transparent huge page on the systems this
// runs on (x86-64 and arm64 with 4 KiB base pages).
const hugePage = 2 << 20

// slack is how much larger than n the advised span is: the alignment
// lost at its ends, and room for the small spans other goroutines may
// take from the bottom of the free range before a large allocation comes.
const slack = 8 << 20

// below is how far under the span the advice reaches: memory freed just
// under it joins the free range, and an allocation then starts there (up
// to 10 MiB lower in trials).
const below = 16 << 20

// Advise advises huge pages over the lowest free heap range of at least n
// bytes: where an allocation of n bytes that the caller is about to make
// (or cause) will be placed, or, called first thing in main, where the
// heap will grow to its first n bytes. It reports whether the advice was
// given. It collects garbage and returns free memory to the system, so it
// is for a program's start or a rare, large allocation, not a loop.
func Advise(n int) bool {
	if n < hugePage || off() {
		return false
	}
	err := adviseFreshSpan(n + slack)
	// The span is garbage now. Free it, so that what comes next finds its
	// range free. FreeOSMemory also releases free pages at once: left to
	// the background scavenger, which takes pages out of the free ranges
	// while it releases them, an allocation landed past the span in 3
	// trials of 20.
	debug.FreeOSMemory()
	return err == nil
}

// adviseFreshSpan allocates n bytes, which come fresh from the system and
// are never touched here, and advises huge pages from below under them to
// their end, in whole huge pages. Only addresses are advised: madvise(2)
// with MADV_HUGEPAGE changes no byte of memory in use, and the part of the
// range not mapped is skipped (with ENOMEM, which is no failure here).
//
//go:noinline
func adviseFreshSpan(n int) error {
	span := make([]byte, n)
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(span)))
	hi := (lo + uintptr(n)) &^ (hugePage - 1)
	start := (lo - below) &^ (hugePage - 1)
	if lo < below {
		start = (lo + hugePage - 1) &^ (hugePage - 1)
	}
	_, _, errno := unix.Syscall(unix.SYS_MADVISE, start, hi-start, unix.MADV_HUGEPAGE)
	if errno != 0 && errno != unix.ENOMEM {
		return errno
	}
	return nil
}
