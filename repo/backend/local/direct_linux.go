package local

import (
	"syscall"
	"unsafe"
)

// openDirect opens path read-only for direct I/O (O_DIRECT): reads go from
// the disk into the reader's own aligned buffer and never through the page
// cache. It fails with EINVAL where the file system does not do direct I/O.
func openDirect(path string) (int, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_DIRECT, 0)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}

// setDirect turns direct I/O on for fd; it fails with EINVAL where the
// file system does not do direct I/O.
func setDirect(fd int) error { return setFlag(fd, syscall.O_DIRECT, true) }

// clearDirect turns direct I/O off on fd, for a file system that accepted
// O_DIRECT and then refused an aligned read or write.
func clearDirect(fd int) error { return setFlag(fd, syscall.O_DIRECT, false) }

func setFlag(fd, flag int, on bool) error {
	flags, _, errno := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFL, 0)
	if errno != 0 {
		return errno
	}
	if on {
		flags |= uintptr(flag)
	} else {
		flags &^= uintptr(flag)
	}
	_, _, errno = syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_SETFL, flags)
	if errno != 0 {
		return errno
	}
	return nil
}

// alignedBuffer returns n bytes whose address is a multiple of directAlign.
// The Go heap does not move objects, so the alignment holds for the slice's
// life.
func alignedBuffer(n int) []byte {
	b := make([]byte, n+directAlign)
	skip := 0
	if rem := int(uintptr(unsafe.Pointer(&b[0])) & (directAlign - 1)); rem != 0 {
		skip = directAlign - rem
	}
	return b[skip : skip+n : skip+n]
}
