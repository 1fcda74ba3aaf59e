package client

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os/user"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/holdfast-backup/holdfast/format/tree"
)

// bkNames caches user and group names by ID: a backup of a million files
// owned by one user looks the name up once. Misses are cached too.
type bkNames struct {
	users, groups map[uint32]string
}

func (n *bkNames) user(uid uint32) string {
	if name, ok := n.users[uid]; ok {
		return name
	}
	name := ""
	if u, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil {
		name = u.Username
	}
	if n.users == nil {
		n.users = map[uint32]string{}
	}
	n.users[uid] = name
	return name
}

func (n *bkNames) group(gid uint32) string {
	if name, ok := n.groups[gid]; ok {
		return name
	}
	name := ""
	if g, err := user.LookupGroupId(strconv.FormatUint(uint64(gid), 10)); err == nil {
		name = g.Name
	}
	if n.groups == nil {
		n.groups = map[uint32]string{}
	}
	n.groups[gid] = name
	return name
}

// bkEntryType maps the file type bits of st_mode to a tree type.
func bkEntryType(mode uint32) (tree.Type, error) {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return tree.File, nil
	case unix.S_IFDIR:
		return tree.Dir, nil
	case unix.S_IFLNK:
		return tree.Symlink, nil
	case unix.S_IFCHR:
		return tree.CharDev, nil
	case unix.S_IFBLK:
		return tree.BlockDev, nil
	case unix.S_IFIFO:
		return tree.FIFO, nil
	case unix.S_IFSOCK:
		return tree.Socket, nil
	}
	return 0, fmt.Errorf("unknown file type %#o", mode&unix.S_IFMT)
}

// fillStat sets every field of e that lstat tells: type, mode, owner and
// names, times, size (files only), inode, device, links and, for devices,
// the device numbers.
func (n *bkNames) fillStat(e *tree.Entry, st *unix.Stat_t) error {
	t, err := bkEntryType(statMode(st))
	if err != nil {
		return err
	}
	e.Type = t
	e.Mode = statMode(st) & tree.MaxMode
	e.UID, e.GID = st.Uid, st.Gid
	e.User, e.Group = n.user(st.Uid), n.group(st.Gid)
	e.MTime, e.ATime, e.CTime = st.Mtim.Nano(), st.Atim.Nano(), st.Ctim.Nano()
	e.Size = 0
	if t == tree.File {
		e.Size = uint64(st.Size)
	}
	e.Inode, e.Device = st.Ino, statDev(st)
	e.Links = uint32(min(uint64(st.Nlink), math.MaxUint32))
	e.RDevMajor, e.RDevMinor = 0, 0
	if t.IsDevice() {
		e.RDevMajor, e.RDevMinor = unix.Major(statRdev(st)), unix.Minor(statRdev(st))
	}
	return nil
}

// bkXattrs reads the extended attributes of path itself (not of a symlink's
// target), sorted by name. A file system without xattrs gives none.
// Attributes that vanish between list and get are skipped.
func bkXattrs(path string) ([]tree.Xattr, error) {
	var list []byte
	for range 4 { // the list may grow between the size query and the read
		size, err := unix.Llistxattr(path, nil)
		if err == unix.ENOTSUP || err == unix.EOPNOTSUPP {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list xattrs: %w", err)
		}
		if size == 0 {
			return nil, nil
		}
		list = make([]byte, size)
		n, err := unix.Llistxattr(path, list)
		if err == unix.ERANGE {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list xattrs: %w", err)
		}
		list = list[:n]
		break
	}
	var names []string
	for _, b := range bytes.Split(list, []byte{0}) {
		if len(b) > 0 {
			names = append(names, string(b))
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	out := make([]tree.Xattr, 0, len(names))
	var errs []error
	for _, name := range names {
		v, err := bkXattr(path, name)
		if err == unix.ENODATA {
			continue
		}
		if err == nil && (len(name) > tree.MaxXattrName || len(v) > tree.MaxXattrValue) {
			err = errors.New("too large for a snapshot")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("xattr %q: %w", name, err))
			continue
		}
		out = append(out, tree.Xattr{Name: name, Value: v})
	}
	return out, errors.Join(errs...)
}

func bkXattr(path, name string) ([]byte, error) {
	for range 4 {
		size, err := unix.Lgetxattr(path, name, nil)
		if err != nil {
			return nil, err
		}
		v := make([]byte, size)
		n, err := unix.Lgetxattr(path, name, v)
		if err == unix.ERANGE {
			continue
		}
		if err != nil {
			return nil, err
		}
		return v[:n], nil
	}
	return nil, unix.ERANGE
}

// bkReadlink reads a symlink's target.
func bkReadlink(path string) (string, error) {
	return bkReadlinkat(unix.AT_FDCWD, path)
}

// bkReadlinkat reads the target of the symlink name in the directory
// dirfd (or, for unix.AT_FDCWD, at the path name).
func bkReadlinkat(dirfd int, name string) (string, error) {
	buf := make([]byte, tree.MaxLinkTarget+1)
	n, err := unix.Readlinkat(dirfd, name, buf)
	if err != nil {
		return "", fmt.Errorf("readlink: %w", err)
	}
	if n == 0 || n > tree.MaxLinkTarget {
		return "", fmt.Errorf("readlink: target of %d bytes (want 1 to %d)", n, tree.MaxLinkTarget)
	}
	return string(buf[:n]), nil
}
