//go:build !linux

package directio

import "syscall"

// OpenRead reports that direct I/O is not used here.
func OpenRead(string) (int, error) { return -1, syscall.EINVAL }

// Set reports that direct I/O is not used here.
func Set(int) error { return syscall.EINVAL }

// Clear does nothing here: Set never succeeds.
func Clear(int) error { return nil }
