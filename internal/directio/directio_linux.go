package directio

import "syscall"

// Set turns direct I/O on for fd; it fails with EINVAL where the file
// system does not do direct I/O.
func Set(fd int) error { return setFlag(fd, true) }

// Clear turns direct I/O off for fd, for a file system that accepted
// O_DIRECT and then refused an aligned read or write.
func Clear(fd int) error { return setFlag(fd, false) }

func setFlag(fd int, on bool) error {
	flags, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFL, 0)
	if errno != 0 {
		return errno
	}
	if on {
		flags |= syscall.O_DIRECT
	} else {
		flags &^= syscall.O_DIRECT
	}
	if _, _, errno = syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_SETFL, flags); errno != 0 {
		return errno
	}
	return nil
}

// allocOffHeap maps n bytes of anonymous memory: page-aligned, outside
// the Go heap. It falls back to the heap if the mapping fails.
func allocOffHeap(n int) []byte {
	b, err := syscall.Mmap(-1, 0, n, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return Buffer(n)
	}
	return b
}

// freeOffHeap unmaps a buffer from allocOffHeap; one that came from the
// heap is left to the garbage collector.
func freeOffHeap(b []byte) {
	_ = syscall.Munmap(b) // EINVAL for a heap buffer: nothing to do
}
