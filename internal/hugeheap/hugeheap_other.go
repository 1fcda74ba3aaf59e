//go:build !linux

package hugeheap

// Advise does nothing where madvise(2) has no MADV_HUGEPAGE.
func Advise(n int) bool { return false }

// AdviseHeap does nothing where madvise(2) has no MADV_HUGEPAGE.
func AdviseHeap(n int) bool { return false }
