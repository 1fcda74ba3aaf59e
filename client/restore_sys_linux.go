//go:build linux

package client

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/holdfast-backup/holdfast/format/tree"
)

// The system calls restore needs beyond os.Root, all relative to file
// descriptors that restore opened inside the target, so none of them
// resolves a path from outside it.

// withFd runs fn with f's descriptor.
func withFd(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

func timespecs(atime, mtime int64) [2]unix.Timespec {
	return [2]unix.Timespec{unix.NsecToTimespec(atime), unix.NsecToTimespec(mtime)}
}

// sysFutimens sets the times of an open file: utimensat(fd, NULL, ...).
func sysFutimens(f *os.File, atime, mtime int64) error {
	ts := timespecs(atime, mtime)
	return withFd(f, func(fd int) error {
		_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0)
		if e != 0 {
			return e
		}
		return nil
	})
}

// sysLutimensAt sets the times of name in dir without following a symlink.
func sysLutimensAt(dir *os.File, name string, atime, mtime int64) error {
	ts := timespecs(atime, mtime)
	return withFd(dir, func(fd int) error {
		return unix.UtimesNanoAt(fd, name, ts[:], unix.AT_SYMLINK_NOFOLLOW)
	})
}

// sysMknodAt creates a FIFO, device node or socket named name in dir.
// mknodat never follows a symlink: an existing name fails with EEXIST.
func sysMknodAt(dir *os.File, name string, t tree.Type, major, minor uint32) error {
	var mode uint32
	var dev uint64
	switch t {
	case tree.FIFO:
		mode = unix.S_IFIFO
	case tree.CharDev:
		mode, dev = unix.S_IFCHR, unix.Mkdev(major, minor)
	case tree.BlockDev:
		mode, dev = unix.S_IFBLK, unix.Mkdev(major, minor)
	case tree.Socket:
		mode = unix.S_IFSOCK
	default:
		return errors.ErrUnsupported
	}
	return withFd(dir, func(fd int) error { return unix.Mknodat(fd, name, mode|0o600, int(dev)) })
}

func sysFsetxattr(f *os.File, name string, value []byte) error {
	return withFd(f, func(fd int) error { return unix.Fsetxattr(fd, name, value, 0) })
}

// sysLsetxattrAt sets an xattr on name in dir without following it (for
// symlinks and special files, which restore does not open). The path goes
// through the directory's /proc/self/fd link, so only name is resolved,
// and lsetxattr does not follow it.
func sysLsetxattrAt(dir *os.File, name, attr string, value []byte) error {
	err := withFd(dir, func(fd int) error {
		return unix.Lsetxattr("/proc/self/fd/"+strconv.Itoa(fd)+"/"+name, attr, value, 0)
	})
	if errors.Is(err, unix.ENOENT) {
		// restore just made name: what is missing is /proc.
		return fmt.Errorf("%w: /proc is not mounted", errors.ErrUnsupported)
	}
	return err
}

func sysFchmod(f *os.File, mode uint32) error {
	return withFd(f, func(fd int) error { return unix.Fchmod(fd, mode) })
}

// sysNextData returns the start of the first data region at or after off,
// or -1 when there is none before the end of the file.
func sysNextData(f *os.File, off int64) (int64, error) {
	var pos int64
	err := withFd(f, func(fd int) error {
		var err error
		pos, err = unix.Seek(fd, off, unix.SEEK_DATA)
		return err
	})
	if errors.Is(err, unix.ENXIO) {
		return -1, nil
	}
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP) {
		return off, nil // no SEEK_DATA: treat everything as data
	}
	return pos, err
}

// sysNextHole returns the start of the first hole at or after off (the end
// of the file counts as one).
func sysNextHole(f *os.File, off int64) (int64, error) {
	var pos int64
	err := withFd(f, func(fd int) error {
		var err error
		pos, err = unix.Seek(fd, off, unix.SEEK_HOLE)
		return err
	})
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP) {
		st, serr := f.Stat()
		if serr != nil {
			return 0, serr
		}
		return st.Size(), nil
	}
	return pos, err
}

// ownerOf returns the owner in fi.
func ownerOf(fi os.FileInfo) rsOwner {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return rsOwner{uid: st.Uid, gid: st.Gid, known: true}
	}
	return rsOwner{}
}

// statNlink returns a file's link count.
func statNlink(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}

// isPermission reports errors that mean "not allowed for this process"
// (device nodes without CAP_MKNOD, xattrs in a namespace we may not set).
func isPermission(err error) bool {
	return errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES)
}

// isUnsupported reports errors that mean "this file system cannot".
func isUnsupported(err error) bool {
	return errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOTSUP) || errors.Is(err, errors.ErrUnsupported)
}

// oDirectory makes an open fail unless the name is a directory.
const oDirectory = unix.O_DIRECTORY

// sysCreateAt creates name in the directory dir for writing, mode 0600:
// openat(O_CREAT|O_EXCL|O_NOFOLLOW), which fails if anything is there and
// never follows a symlink. One system call per file instead of os.Root's
// walk of the name, which matters for a source tree of small files.
func sysCreateAt(dir *os.File, name string) (*os.File, error) {
	var nf *os.File
	err := withFd(dir, func(dfd int) error {
		fd, err := unix.Openat(dfd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return &os.PathError{Op: "openat", Path: name, Err: err}
		}
		nf = os.NewFile(uintptr(fd), name)
		return nil
	})
	return nf, err
}

// sysStartWriteback starts writeback of n bytes of f at off without
// waiting for it. It is advice: failure changes nothing that matters here.
func sysStartWriteback(f *os.File, off, n int64) {
	_ = withFd(f, func(fd int) error { return unix.SyncFileRange(fd, off, n, unix.SYNC_FILE_RANGE_WRITE) })
}

// sysDropWritten waits until n bytes of f at off are written back, then
// drops them from the page cache (clean pages are freed at once); n = 0
// means to the end of the file. It returns only errors that mean the bytes
// did not reach the disk.
func sysDropWritten(f *os.File, off, n int64) error {
	err := withFd(f, func(fd int) error {
		const all = unix.SYNC_FILE_RANGE_WAIT_BEFORE | unix.SYNC_FILE_RANGE_WRITE | unix.SYNC_FILE_RANGE_WAIT_AFTER
		if err := unix.SyncFileRange(fd, off, n, all); err != nil {
			return err
		}
		_ = unix.Fadvise(fd, off, n, unix.FADV_DONTNEED)
		return nil
	})
	if errors.Is(err, unix.EIO) || errors.Is(err, unix.ENOSPC) || errors.Is(err, unix.EDQUOT) {
		return err
	}
	return nil
}
