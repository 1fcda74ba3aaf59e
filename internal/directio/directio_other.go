//go:build !linux

package directio

import "syscall"

// Set reports that direct I/O is not used here.
func Set(int) error { return syscall.EINVAL }

// Clear does nothing here: Set never succeeds.
func Clear(int) error { return nil }
