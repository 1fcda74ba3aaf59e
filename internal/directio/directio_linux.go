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
