//go:build !linux

package hugeheap

// Prepare does nothing where madvise(2) has no MADV_HUGEPAGE.
func Prepare(n int) bool { return false }
