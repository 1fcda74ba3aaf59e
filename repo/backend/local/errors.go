package local

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/holdfast-backup/holdfast/repo/backend"
)

// wrapErr turns an error from the file system into one that names the object
// rather than the absolute path, keeps the syscall.Errno in the chain and adds
// the matching backend sentinel.
func (b *Backend) wrapErr(op string, name string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("local: %s %s: %w", op, name, err)
	}
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		// Not a system call error: keep it in the chain, but hide the path.
		return fmt.Errorf("local: %s %s: %w", op, name, &redacted{err: err, root: b.root})
	}
	if (errno == syscall.ENOENT || errno == syscall.ENOTDIR) && b.rootGone() {
		// Not a missing object: the whole store is gone (removed, renamed,
		// unmounted). Say so, or the caller sees a bare "no such file".
		return fmt.Errorf("local: %s %s: %w (%w)", op, name, backend.ErrUnavailable, errno)
	}
	if kind := classify(errno); kind != nil {
		return fmt.Errorf("local: %s %s: %w (%w)", op, name, kind, errno)
	}
	return fmt.Errorf("local: %s %s: %w", op, name, errno)
}

// rootGone reports whether the store's directory no longer exists as a
// directory on the device it was on when the store was opened.
func (b *Backend) rootGone() bool { return b.checkRoot("", "") != nil }

// checkRoot fails with backend.ErrUnavailable when the store's directory is
// gone, or lies on another file system than when the store was opened:
// the disk was unmounted and its mount point, now a directory of the
// parent file system, must not be written to (it would fill the wrong
// disk, and the shards would vanish under the disk once it is mounted
// again) nor listed as an empty store.
func (b *Backend) checkRoot(op, name string) error {
	if err := b.unavailable(op, name); err != nil {
		return err
	}
	var st syscall.Stat_t
	switch err := syscall.Stat(b.root, &st); {
	case err != nil:
		var errno syscall.Errno
		if errors.As(err, &errno) && classify(errno) != nil {
			return b.wrapErr(op, name, err)
		}
		return fmt.Errorf("local: %s %s: %w (%w)", op, name, backend.ErrUnavailable, err)
	case st.Mode&syscall.S_IFMT != syscall.S_IFDIR:
		return fmt.Errorf("local: %s %s: %w (%w)", op, name, backend.ErrUnavailable, syscall.ENOTDIR)
	case uint64(st.Dev) != b.dev: // Dev is int32 on some systems
		return fmt.Errorf("local: %s %s: %w (its directory is on another file system than when the store was opened: was the disk unmounted?)", op, name, backend.ErrUnavailable)
	}
	return nil
}

func classify(errno syscall.Errno) error {
	switch errno {
	case syscall.ENOSPC, syscall.EDQUOT:
		return backend.ErrFull
	case syscall.EROFS:
		return backend.ErrReadOnly
	case syscall.EACCES, syscall.EPERM:
		return backend.ErrPermission
	}
	return nil
}

// redacted is an error whose message has the store's directory cut out.
type redacted struct {
	err  error
	root string
}

func (r *redacted) Error() string {
	return strings.ReplaceAll(r.err.Error(), r.root, "<store>")
}

func (r *redacted) Unwrap() error { return r.err }
