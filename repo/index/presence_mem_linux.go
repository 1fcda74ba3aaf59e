package index

import "golang.org/x/sys/unix"

// adviseHugePages asks for transparent huge pages over b (a hint).
func adviseHugePages(b []byte) { _ = unix.Madvise(b, unix.MADV_HUGEPAGE) }
