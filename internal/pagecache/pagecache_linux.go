package pagecache

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Resident returns how many of the file's pages are in the page cache, and
// how many pages it has. It maps the file and asks mincore(2), with
// O_NOATIME so that looking does not change the file's access time (the
// caller must own the file or be privileged).
func Resident(path string) (resident, total int, err error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOATIME, 0)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return 0, 0, err
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return 0, 0, err
	}
	defer unix.Munmap(m)
	page := os.Getpagesize()
	vec := make([]byte, (len(m)+page-1)/page)
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0])))
	if errno != 0 {
		return 0, 0, errno
	}
	for _, v := range vec {
		if v&1 != 0 {
			resident++
		}
	}
	return resident, len(vec), nil
}

// Droppable reports whether the file system holding path keeps file data
// in a page cache that writeback cleans, so that dropped pages leave it.
// tmpfs and ramfs pages live only in memory and are never dropped.
func Droppable(path string) (bool, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false, err
	}
	switch st.Type {
	case unix.TMPFS_MAGIC, unix.RAMFS_MAGIC:
		return false, nil
	}
	return true, nil
}
