package client

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"

	"github.com/holdfast-backup/holdfast/format/tree"
)

// Safety. Every file system call of a restore goes through an os.Root: the
// target's, or one per directory opened from its parent's Root with a
// single name. os.Root resolves nothing outside its directory, whatever
// symlinks are met, and a decoded tree name is always one plain component
// (format/tree refuses "/", ".", "..", NUL and duplicates). On top of that
// restore never walks through a symlink it finds: a directory entry whose
// name exists in the target as anything but a directory is removed and
// created again, and a directory is opened only after Lstat said it is
// one (and checked again after opening). Calls os.Root lacks (mknodat,
// lsetxattr, utimensat without following) take a descriptor of a
// directory opened this way and a single name that they do not follow.

// rsDir is a directory of the target open during a restore. The walker
// holds one reference while it fills the directory and every file job in
// it holds one until the file is finished.
type rsDir struct {
	root  *os.Root
	rel   string
	keep  bool // the target itself: Restore closes it
	fresh bool // created empty by this restore: nothing to check or clear in it
	owner rsOwner
	refs  atomic.Int32

	mu sync.Mutex
	fd *os.File // the directory itself, opened on first need
}

func (d *rsDir) ref() { d.refs.Add(1) }

func (d *rsDir) unref() {
	if d.refs.Add(-1) != 0 {
		return
	}
	d.mu.Lock()
	if d.fd != nil {
		d.fd.Close()
		d.fd = nil
	}
	d.mu.Unlock()
	if !d.keep {
		d.root.Close()
	}
}

// file returns the directory's own descriptor, for *at calls.
func (d *rsDir) file() (*os.File, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.fd == nil {
		f, err := d.root.Open(".")
		if err != nil {
			return nil, err
		}
		d.fd = f
	}
	return d.fd, nil
}

// removeExisting deletes what is at name in d, so restore can create the
// snapshot's entry there. It never follows a symlink: a symlink is removed
// itself.
func removeExisting(d *rsDir, name string, fi fs.FileInfo) error {
	if fi.IsDir() {
		return d.root.RemoveAll(name)
	}
	return d.root.Remove(name)
}

// makeDir creates (or reuses) the directory name in d and opens it.
func (rs *restorer) makeDir(d *rsDir, name, p string) (*rsDir, error) {
	err := d.root.Mkdir(name, 0o700)
	fresh := err == nil
	if errors.Is(err, fs.ErrExist) {
		var fi fs.FileInfo
		if fi, err = d.root.Lstat(name); err == nil {
			switch {
			case !fi.IsDir():
				if err = removeExisting(d, name, fi); err == nil {
					err = d.root.Mkdir(name, 0o700)
				}
			case fi.Mode().Perm()&0o700 != 0o700:
				// Left read-only by an earlier run: make it writable until
				// its own metadata is applied at the end.
				err = d.root.Chmod(name, fi.Mode().Perm()|0o700)
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("/%s: create directory: %w", p, err)
	}
	before, err := d.root.Lstat(name)
	if err != nil {
		return nil, fmt.Errorf("/%s: %w", p, err)
	}
	if !before.IsDir() {
		return nil, fmt.Errorf("/%s: replaced by a %v while restoring", p, before.Mode().Type())
	}
	root, err := d.root.OpenRoot(name)
	if err != nil {
		return nil, fmt.Errorf("/%s: open directory: %w", p, err)
	}
	after, err := root.Stat(".")
	if err == nil && !os.SameFile(before, after) {
		err = errors.New("replaced while restoring")
	}
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("/%s: %w", p, err)
	}
	child := &rsDir{root: root, rel: p, fresh: fresh, owner: ownerOf(after)}
	child.refs.Store(1)
	return child, nil
}

// makeSymlink creates a symlink. Its target is stored as is, absolute or
// with "..": restore never resolves it.
func (rs *restorer) makeSymlink(d *rsDir, e *tree.Entry, p string) error {
	name := e.Name
	create := true
	if d.fresh {
		// Nothing there to check.
	} else if fi, err := d.root.Lstat(name); err == nil {
		if fi.Mode()&fs.ModeSymlink != 0 {
			if t, err := d.root.Readlink(name); err == nil && t == e.LinkTarget {
				create = false // an earlier run made it
			}
		}
		if create {
			if err := removeExisting(d, name, fi); err != nil {
				return fmt.Errorf("/%s: %w", p, err)
			}
		}
	}
	if create {
		if err := d.root.Symlink(e.LinkTarget, name); err != nil {
			return fmt.Errorf("/%s: create symlink: %w", p, err)
		}
	}
	rs.count(func(r *RestoreResult) { r.Symlinks++ })
	rs.opts.Progress.Files.Add(1)
	return rs.nodeMeta(d, e, p)
}

// makeSpecial creates a FIFO or a device node. Device nodes need
// CAP_MKNOD; without it restore warns and goes on.
func (rs *restorer) makeSpecial(d *rsDir, e *tree.Entry, p string) error {
	name := e.Name
	if d.fresh {
		// Nothing there to clear.
	} else if fi, err := d.root.Lstat(name); err == nil {
		if err := removeExisting(d, name, fi); err != nil {
			return fmt.Errorf("/%s: %w", p, err)
		}
	}
	dirf, err := d.file()
	if err != nil {
		return fmt.Errorf("/%s: %w", p, err)
	}
	if err := sysMknodAt(dirf, name, e.Type, e.RDevMajor, e.RDevMinor); err != nil {
		if isPermission(err) || isUnsupported(err) {
			rs.warn("/%s: %s not created: %v", p, e.Type, err)
			return nil
		}
		return fmt.Errorf("/%s: create %s: %w", p, e.Type, err)
	}
	rs.count(func(r *RestoreResult) { r.Specials++ })
	rs.opts.Progress.Files.Add(1)
	return rs.nodeMeta(d, e, p)
}

// nodeMeta applies metadata to a symlink or special file that restore
// does not open: owner, xattrs, mode (not for symlinks), times, none of
// them following a symlink.
func (rs *restorer) nodeMeta(d *rsDir, e *tree.Entry, p string) error {
	name := e.Name
	if rs.asRoot {
		if err := d.root.Lchown(name, int(e.UID), int(e.GID)); err != nil {
			if !isPermission(err) {
				return fmt.Errorf("/%s: chown: %w", p, err)
			}
			rs.warn("/%s: owner not set: %v", p, err)
		}
	}
	dirf, err := d.file()
	if err != nil {
		return fmt.Errorf("/%s: %w", p, err)
	}
	for _, x := range e.Xattrs {
		if err := sysLsetxattrAt(dirf, name, x.Name, x.Value); err != nil {
			if err := rs.xattrErr(p, x.Name, err); err != nil {
				return err
			}
		}
	}
	if e.Type != tree.Symlink {
		if err := d.root.Chmod(name, osMode(e.Mode)); err != nil {
			return fmt.Errorf("/%s: chmod: %w", p, err)
		}
	}
	if err := sysLutimensAt(dirf, name, e.ATime, e.MTime); err != nil {
		return fmt.Errorf("/%s: set times: %w", p, err)
	}
	return nil
}

// rsOwner is the owner a file or directory has, when known.
type rsOwner struct {
	uid, gid uint32
	known    bool
}

// newFileOwner is the owner of a file this process creates in d: its own
// user, and its group, or d's where d passes its group on (setgid, or
// mounted grpid); unknown unless the two groups agree.
func (rs *restorer) newFileOwner(d *rsDir) rsOwner {
	if !d.owner.known || d.owner.gid != rs.self.gid {
		return rsOwner{}
	}
	return rs.self
}

// fileMeta applies metadata to an open file or directory whose owner is
// cur (if known): a chown to the owner it already has is left out.
func (rs *restorer) fileMeta(f *os.File, e *tree.Entry, p string, cur rsOwner) error {
	if rs.asRoot && (!cur.known || cur.uid != e.UID || cur.gid != e.GID) {
		if err := f.Chown(int(e.UID), int(e.GID)); err != nil {
			if !isPermission(err) {
				return fmt.Errorf("/%s: chown: %w", p, err)
			}
			rs.warn("/%s: owner not set: %v", p, err)
		}
	}
	for _, x := range e.Xattrs {
		if err := sysFsetxattr(f, x.Name, x.Value); err != nil {
			if err := rs.xattrErr(p, x.Name, err); err != nil {
				return err
			}
		}
	}
	if err := sysFchmod(f, e.Mode); err != nil {
		return fmt.Errorf("/%s: chmod: %w", p, err)
	}
	if err := sysFutimens(f, e.ATime, e.MTime); err != nil {
		return fmt.Errorf("/%s: set times: %w", p, err)
	}
	return nil
}

// xattrErr turns "may not" and "cannot here" into a warning (trusted.*
// as a user, a file system without xattrs) and anything else into an
// error.
func (rs *restorer) xattrErr(p, name string, err error) error {
	if isPermission(err) || isUnsupported(err) {
		rs.warn("/%s: xattr %s not set: %v", p, name, err)
		return nil
	}
	return fmt.Errorf("/%s: xattr %s: %w", p, name, err)
}

// osMode converts tree mode bits (permissions, setuid, setgid, sticky)
// to an os.FileMode.
func osMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		mode |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		mode |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		mode |= fs.ModeSticky
	}
	return mode
}

// linkAll creates the hardlinks recorded during the walk, each to the
// first path of its group, once every file's content is written.
func (rs *restorer) linkAll() error {
	for _, l := range rs.links {
		err := rs.top.Link(l.from, l.to)
		if errors.Is(err, fs.ErrExist) {
			a, aerr := rs.top.Lstat(l.from)
			b, berr := rs.top.Lstat(l.to)
			if aerr == nil && berr == nil && os.SameFile(a, b) {
				rs.count(func(r *RestoreResult) { r.Hardlinks++ })
				continue
			}
			if berr == nil {
				if b.IsDir() {
					err = rs.top.RemoveAll(l.to)
				} else {
					err = rs.top.Remove(l.to)
				}
				if err == nil {
					err = rs.top.Link(l.from, l.to)
				}
			}
		}
		if errors.Is(err, fs.ErrNotExist) {
			// The first of the group was not created (a device node we
			// may not make): nothing to link to.
			rs.warn("/%s: hardlink to /%s not created: %v", l.to, l.from, err)
			continue
		}
		if err != nil {
			return fmt.Errorf("/%s: hardlink to /%s: %w", l.to, l.from, err)
		}
		rs.count(func(r *RestoreResult) { r.Hardlinks++ })
		rs.opts.Progress.Files.Add(1)
	}
	return nil
}

// finishDirs applies directory metadata, deepest first (the reverse of
// the walk's pre-order), after everything inside them is in place, so
// neither a restrictive mode nor a later write spoils them.
func (rs *restorer) finishDirs() error {
	for i := len(rs.dirs) - 1; i >= 0; i-- {
		dm := rs.dirs[i]
		f, err := rs.top.OpenFile(dm.rel, os.O_RDONLY|oDirectory, 0)
		if err != nil {
			return fmt.Errorf("/%s: open directory: %w", dm.rel, err)
		}
		err = rs.fileMeta(f, dm.e, dm.rel, dm.owner)
		f.Close()
		if err != nil {
			return err
		}
		rs.opts.Progress.Files.Add(1)
	}
	return nil
}
