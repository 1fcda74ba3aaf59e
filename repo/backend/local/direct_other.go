//go:build !linux

package local

import "syscall"

// openDirect reports that direct I/O is not used here: Get reads through
// the page cache.
func openDirect(string) (int, error) { return -1, syscall.EINVAL }

// setDirect reports that direct I/O is not used here: Put writes through
// the page cache.
func setDirect(int) error { return syscall.EINVAL }

// clearDirect is never reached: openDirect never succeeds here.
func clearDirect(int) error { return syscall.EINVAL }

// alignedBuffer is never reached: openDirect never succeeds here.
func alignedBuffer(n int) []byte { return make([]byte, n) }
