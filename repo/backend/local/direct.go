package local

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/holdfast-backup/holdfast/internal/directio"
)

// Direct reads (SPEC.md §10.4). Get reads a range of directMinRead bytes or
// more with O_DIRECT where the file system allows it: the disk writes into
// an aligned buffer of the reader's, and Read copies from there. A buffered read would allocate a
// page-cache page for every 4 KiB, have the kernel copy it out, and then
// drop it again; on a virtual machine whose freed memory goes back to the
// host, each new page also costs a fault into the host.
const (
	directAlign = directio.Align

	// directWindow is the most a direct read fetches at once: a chunk's
	// range (about 1 MiB on average) in one or two reads.
	directWindow = 1 << 20

	// directMinRead is the shortest range Get reads with direct I/O.
	directMinRead = 256 << 10
)

// directBuffers keeps read windows for reuse: a restore reads from a few
// shards at a time.
var directBuffers = directio.NewBuffers(directWindow, 16)

// useDirect turns direct I/O on for a Get of length bytes from fd, if the
// range is long enough, the store does not keep its pages cached, and its
// file system has not refused direct I/O before. Short ranges (a source
// tree's small files are a chunk each) read through the page cache: the
// kernel reads ahead from the disk in large requests there, and the next
// small chunk is usually in them, while a direct read costs the disk one
// request per chunk.
func (b *Backend) useDirect(fd int, length int64) bool {
	if length < directMinRead || b.keepCache || b.noDirect.Load() {
		return false
	}
	if err := directio.Set(fd); err != nil {
		b.noDirect.Store(true)
		return false
	}
	return true
}

// readDirect is Read for a reader opened for direct I/O: it copies from the
// window, refilling it first when r.off lies outside. p is not empty and
// ends at or before r.end.
func (r *fileReader) readDirect(p []byte) (int, error) {
	if r.off < r.winOff || r.off >= r.winOff+int64(len(r.win)) {
		if err := r.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, r.win[r.off-r.winOff:])
	r.off += int64(n)
	return n, nil
}

// fill reads the aligned window that starts at or just before r.off and
// covers as much of [r.off, r.end) as directWindow allows.
func (r *fileReader) fill() error {
	if r.buf == nil {
		r.buf = directBuffers.Get()
	}
	start := directio.AlignDown(r.off)
	buf := r.buf[:min(directio.AlignUp(r.end)-start, directWindow)]
	for {
		n, err := preadDirect(r.fd, buf, start)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EINVAL:
			// Accepted by fcntl, refused now: read through the page
			// cache from here on, on this store too.
			return r.stopDirect(err)
		case err != nil:
			return r.b.wrapErr("read", string(r.name), err)
		case start+int64(n) <= r.off:
			// The file is shorter than its fstat said: it was truncated
			// under us. Objects are immutable, so that is damage.
			return fmt.Errorf("local: read %s: shorter than when opened: %w", r.name, io.ErrUnexpectedEOF)
		}
		r.winOff, r.win = start, buf[:n]
		return nil
	}
}

// preadDirect and writeDirect are the direct reads and writes; tests
// replace them to act out a file system that refuses direct I/O midway.
var (
	preadDirect = syscall.Pread
	writeDirect = (*os.File).WriteAt
)

// errBuffered tells Read to go on with a buffered read.
var errBuffered = errors.New("local: read without direct I/O")

func (r *fileReader) stopDirect(cause error) error {
	r.b.noDirect.Store(true)
	if err := directio.Clear(r.fd); err != nil {
		return r.b.wrapErr("read", string(r.name), errors.Join(cause, err))
	}
	r.direct = false
	r.releaseWindow()
	return errBuffered
}

// releaseWindow gives the window's buffer back to directBuffers.
func (r *fileReader) releaseWindow() {
	if r.buf != nil {
		directBuffers.Put(r.buf)
		r.buf, r.win = nil, nil
	}
}
