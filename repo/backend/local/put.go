package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/holdfast-backup/holdfast/repo/backend"
)

// Put implements [backend.Backend]: write a temporary file in the final
// directory, fsync it, rename it over the final name, fsync the directory.
//
// Objects are shards, written once and read rarely (a restore, a scrub,
// a repack), so caching them only evicts pages the host needs more, and
// growing the cache by the whole upload costs the kernel page allocations
// and, in a virtual machine, first touches of host memory. So the payload
// is written with direct I/O (direct_put.go) where the file system allows
// it; elsewhere it goes through the page cache, and the file's pages are
// dropped after the fsync (on Linux) for the next Put to reuse. Measured in
// SPEC.md §10.4.
func (b *Backend) Put(ctx context.Context, name backend.Name, p backend.Payload) error {
	if err := name.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("local: put %s: %w", name, err)
	}
	if err := b.checkRoot("put", string(name)); err != nil {
		return err
	}
	final := b.path(name)
	dir := filepath.Dir(final)
	if err := b.mkdirAll(dir); err != nil {
		return b.wrapErr("put", string(name), err)
	}
	f, err := os.CreateTemp(dir, tempPrefix+"*")
	if err != nil {
		return b.wrapErr("put", string(name), err)
	}
	tmp := f.Name()
	keep := false // set when the temporary file must be left behind
	defer func() {
		if !keep {
			f.Close()
			os.Remove(tmp)
		}
	}()

	direct, err := b.writePayload(ctx, f, p)
	if err != nil {
		return b.putErr(name, err)
	}
	if err := f.Sync(); err != nil {
		return b.wrapErr("put", string(name), err)
	}
	if !b.keepCache && !direct {
		dropCache(f)
	}
	if err := f.Close(); err != nil {
		return b.wrapErr("put", string(name), err)
	}
	if b.testHookCrash != nil {
		if err := b.testHookCrash(name); err != nil {
			keep = true
			return fmt.Errorf("local: put %s: %w", name, err)
		}
	}
	// Last chance to give up before the object becomes visible.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("local: put %s: %w", name, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return b.wrapErr("put", string(name), err)
	}
	keep = true // renamed: nothing left to remove
	if err := syncDir(dir); err != nil {
		return b.wrapErr("put", string(name), err)
	}
	return nil
}

// payloadError marks a failure of the caller's payload rather than of the
// store.
type payloadError struct{ err error }

func (e *payloadError) Error() string { return "read payload: " + e.err.Error() }
func (e *payloadError) Unwrap() error { return e.err }

func (b *Backend) putErr(name backend.Name, err error) error {
	var pe *payloadError
	if errors.As(err, &pe) || errors.Is(err, backend.ErrPayload) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("local: put %s: %w", name, err)
	}
	return b.wrapErr("put", string(name), err)
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// copyPayload writes p to w, checking ctx between blocks and that p yields
// exactly p.Len() bytes.
func copyPayload(ctx context.Context, w io.Writer, p backend.Payload) error {
	want := p.Len()
	if want < 0 {
		return fmt.Errorf("negative length %d: %w", want, backend.ErrPayload)
	}
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	r := p.Open()
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, rerr := r.Read(buf)
		if m > 0 {
			n += int64(m)
			if n > want {
				return fmt.Errorf("payload yields more than %d bytes: %w", want, backend.ErrPayload)
			}
			if _, err := w.Write(buf[:m]); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return &payloadError{rerr}
		}
	}
	if n != want {
		return fmt.Errorf("payload yields %d bytes, Len is %d: %w", n, want, backend.ErrPayload)
	}
	return ctx.Err()
}

// mkdirAll creates dir and its missing parents, fsyncing each parent that
// gains an entry, so that a synced file inside is reachable after a crash.
func (b *Backend) mkdirAll(dir string) error {
	fi, err := os.Stat(dir)
	if err == nil {
		if fi.IsDir() {
			return nil
		}
		return &fs.PathError{Op: "mkdir", Path: dir, Err: syscall.ENOTDIR}
	}
	if !errors.Is(err, fs.ErrNotExist) || dir == b.root {
		return err
	}
	parent := filepath.Dir(dir)
	if err := b.mkdirAll(parent); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	// Sync also when another Put created dir first: its fsync may not have
	// happened yet, and our object must not depend on it.
	return syncDir(parent)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
