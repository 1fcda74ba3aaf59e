//go:build !linux

package directio

import "syscall"

// Set reports that direct I/O is not used here.
func Set(int) error { return syscall.EINVAL }

// Clear does nothing here: Set never succeeds.
func Clear(int) error { return nil }

// allocOffHeap allocates on the heap here.
func allocOffHeap(n int) []byte { return Buffer(n) }

// freeOffHeap leaves b to the garbage collector.
func freeOffHeap([]byte) {}
