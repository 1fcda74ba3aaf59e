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

// dropRead asks the kernel to drop the pages of n bytes at off that a Get
// has read: a shard is read once per restore or scrub, and its pages would
// only push others out of the cache (SPEC.md §10.4). Only whole pages
// inside the range go, so a neighbouring chunk's first page stays for its
// read. Failure only leaves the pages cached, so it is ignored.
func dropRead(fd int, off, n int64) {
	_ = unix.Fadvise(fd, off, n, unix.FADV_DONTNEED)
}
