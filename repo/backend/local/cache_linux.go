package local

import (
	"os"

	"golang.org/x/sys/unix"
)

// dropCache asks the kernel to drop f's pages from the page cache. Put
// calls it after fsync, when the pages are clean and so are freed at once.
// Failure only leaves the pages cached, so it is ignored.
func dropCache(f *os.File) {
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) { _ = unix.Fadvise(int(fd), 0, 0, unix.FADV_DONTNEED) })
}
