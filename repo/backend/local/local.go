package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"

	"github.com/holdfast-backup/holdfast/repo/backend"
)

var _ backend.Backend = (*Backend)(nil)

// tempPrefix starts the names of temporary files. Valid object names never
// have a segment beginning with a dot, so temporary files cannot collide with
// objects.
const tempPrefix = ".tmp-"

// Backend is a store in a local directory.
type Backend struct {
	root       string // absolute, cleaned
	configured string // as the operator gave it, for String

	// keepCache leaves written and read objects in the page cache
	// (benchmarks and tests compare it with the default, which drops
	// them; see Put and fileReader.Close).
	keepCache bool

	// noDirect is set once the file system refused direct I/O: Get then
	// reads through the page cache (direct.go).
	noDirect atomic.Bool

	// away, when set, says why the engine made the store unavailable
	// (SetUnavailable).
	away atomic.Pointer[string]

	// dev is the device of root when the store was opened. A disk
	// unmounted under a running server leaves its mount point behind, an
	// empty directory of the parent file system: root on another device
	// means the store is gone (see rootGone).
	dev uint64

	// testHookCrash, when set, runs after the temporary file is written and
	// synced and before the rename. An error from it makes Put return at
	// once without removing the temporary file, as if the process had died.
	testHookCrash func(name backend.Name) error
}

// New returns a store in dir, creating dir if needed. Paths in errors and
// logs are relative to dir; [Backend.String] returns dir as given.
func New(dir string) (*Backend, error) {
	if dir == "" {
		return nil, errors.New("local: empty directory")
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("local: store %s: %w", dir, err)
	}
	b := &Backend{root: root, configured: filepath.Clean(dir)}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, b.wrapErr("create store", b.configured, err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(root, &st); err != nil {
		return nil, b.wrapErr("open store", b.configured, err)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		return nil, fmt.Errorf("local: store %s: not a directory", b.configured)
	}
	b.dev = uint64(st.Dev) // int32 on some systems
	return b, nil
}

// String implements [backend.Backend]: the directory as configured.
func (b *Backend) String() string { return b.configured }

func (b *Backend) path(name backend.Name) string {
	return filepath.Join(b.root, filepath.FromSlash(string(name)))
}

// Get implements [backend.Backend] with a reader of the file's section,
// read with direct I/O where the file system allows it (direct.go).
//
// It uses the file descriptor directly (open, fstat, pread, close) rather
// than an *os.File: os.Open also sets the descriptor non-blocking and tries
// to register it with the network poller, two more system calls per read
// that buy nothing for a regular file. A restore reads one small range per
// chunk, so those were a third of the store's system calls
// (server BenchmarkReadChunks).
func (b *Backend) Get(ctx context.Context, name backend.Name, offset, length int64) (io.ReadCloser, error) {
	if err := name.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("local: get %s: %w", name, err)
	}
	if err := b.readUnavailable("get", string(name)); err != nil {
		return nil, err
	}
	fd, err := openRead(b.path(name))
	if err != nil {
		return nil, b.lookupErr("get", name, err)
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		syscall.Close(fd)
		return nil, b.wrapErr("get", string(name), err)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		syscall.Close(fd)
		return nil, fmt.Errorf("local: get %s: %w", name, backend.ErrNotExist)
	}
	size := st.Size
	if length < 0 {
		length = size - offset
	}
	if offset < 0 || offset > size || length > size-offset {
		syscall.Close(fd)
		return nil, fmt.Errorf("local: get %s: offset %d length %d of %d bytes: %w",
			name, offset, length, size, backend.ErrRange)
	}
	direct := b.useDirect(fd, length)
	return &fileReader{ctx: ctx, fd: fd, direct: direct, start: offset, off: offset, end: offset + length, b: b, name: name}, nil
}

// openRead opens path read-only, retrying when a signal interrupts it (the
// Go runtime's preemption signals do, on some file systems).
func openRead(path string) (int, error) {
	for {
		fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != syscall.EINTR {
			return fd, err
		}
	}
}

// fileReader reads the bytes [off, end) of an open file descriptor and
// stops once ctx is done. It is not safe for concurrent use. The caller
// must close it, as Backend.Get requires: unlike an *os.File, a raw
// descriptor has no finalizer to close it if forgotten.
type fileReader struct {
	ctx             context.Context
	fd              int // -1 once closed
	start, off, end int64
	b               *Backend
	name            backend.Name

	// direct reads go through the window win, the bytes of the file from
	// winOff, read into buf, an aligned buffer from directBuffers
	// (direct.go).
	direct bool
	buf    []byte
	win    []byte
	winOff int64
}

func (r *fileReader) Read(p []byte) (int, error) {
	if r.fd < 0 {
		return 0, fmt.Errorf("local: read %s: %w", r.name, os.ErrClosed)
	}
	if err := r.ctx.Err(); err != nil {
		return 0, fmt.Errorf("local: read %s: %w", r.name, err)
	}
	if r.off >= r.end {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil // or pread's 0 would look like a truncated file
	}
	p = p[:min(int64(len(p)), r.end-r.off)]
	if r.direct {
		n, err := r.readDirect(p)
		if err != errBuffered {
			return n, err
		}
	}
	for {
		n, err := syscall.Pread(r.fd, p, r.off)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil:
			return 0, r.b.wrapErr("read", string(r.name), err)
		case n == 0:
			// The file is shorter than its fstat said: it was truncated
			// under us. Objects are immutable, so that is damage.
			return 0, fmt.Errorf("local: read %s: shorter than when opened: %w", r.name, io.ErrUnexpectedEOF)
		}
		r.off += int64(n)
		return n, nil
	}
}

func (r *fileReader) Close() error {
	if r.fd < 0 {
		return nil
	}
	r.releaseWindow()
	if !r.direct && !r.b.keepCache && r.off > r.start {
		dropRead(r.fd, r.start, r.off-r.start)
	}
	err := syscall.Close(r.fd)
	r.fd = -1
	if err != nil {
		return r.b.wrapErr("close", string(r.name), err)
	}
	return nil
}

// Stat implements [backend.Backend].
func (b *Backend) Stat(ctx context.Context, name backend.Name) (backend.Info, error) {
	if err := name.Validate(); err != nil {
		return backend.Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return backend.Info{}, fmt.Errorf("local: stat %s: %w", name, err)
	}
	if err := b.readUnavailable("stat", string(name)); err != nil {
		return backend.Info{}, err
	}
	fi, err := os.Stat(b.path(name))
	if err != nil {
		return backend.Info{}, b.lookupErr("stat", name, err)
	}
	if !fi.Mode().IsRegular() {
		return backend.Info{}, fmt.Errorf("local: stat %s: %w", name, backend.ErrNotExist)
	}
	return backend.Info{Name: name, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Delete implements [backend.Backend]. Deleting a missing object is not an
// error; deleting from a store whose directory is gone is
// [backend.ErrUnavailable]. Empty directories are left in place: removing
// them would race with a concurrent Put into the same directory.
func (b *Backend) Delete(ctx context.Context, name backend.Name) error {
	if err := name.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("local: delete %s: %w", name, err)
	}
	if err := b.unavailable("delete", string(name)); err != nil {
		return err
	}
	// Unlink, not os.Remove: a directory is not an object and must stay.
	err := syscall.Unlink(b.path(name))
	switch {
	case err == nil, errors.Is(err, syscall.EISDIR):
		return nil
	case (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)) && !b.rootGone():
		return nil
	}
	// On a store whose directory is gone, the object may well be on the
	// unmounted disk: wrapErr says ErrUnavailable.
	return b.wrapErr("delete", string(name), err)
}

// lookupErr maps "no such file" (also through a file where a directory was
// expected) to backend.ErrNotExist. When the whole store is gone the error
// also matches backend.ErrUnavailable: the object is absent for the caller
// that only asks whether it can read it, while package erasure (which
// checks ErrUnavailable first) rebuilds from the other stores without
// calling the shard missing, and never writes a rebuilt one to this store.
func (b *Backend) lookupErr(op string, name backend.Name, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		if b.rootGone() {
			return fmt.Errorf("local: %s %s: %w (%w)", op, name, backend.ErrUnavailable, backend.ErrNotExist)
		}
		return fmt.Errorf("local: %s %s: %w", op, name, backend.ErrNotExist)
	}
	return b.wrapErr(op, string(name), err)
}
