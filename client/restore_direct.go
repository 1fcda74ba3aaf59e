package client

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/holdfast-backup/holdfast/internal/directio"
)

// Direct writes (SPEC.md §12.8, "Page cache"). A new file of at least
// dropMinFile bytes is written with direct I/O where the file system allows
// it: its chunks are gathered in an aligned window and written from there
// by the disk, so the kernel neither copies them into page-cache pages nor
// has to write those back and drop them (the dropper's work for the other
// files). Holes stay holes: a window is written only up to the end of the
// last block its data touches, and data after a hole starts a new window at
// its block.

// directWriteWindow is the most one direct write carries; a writer holds
// one window while it writes a file.
const directWriteWindow = 4 << 20

// directWindows keeps windows for reuse, one per writer (Writers is 4 by
// default).
var directWindows = directio.NewBuffers(directWriteWindow, 8)

// directFile writes one new file's data, in ascending offsets, through an
// aligned window. Once the file system refuses a direct write it writes
// through the page cache instead (buffered).
type directFile struct {
	f        *os.File
	buf      []byte // the window, from directWindows; nil once released
	start    int64   // file offset of the window's first byte (aligned)
	n        int     // bytes of the window in use: data, and zeros between
	buffered bool
}

// newDirectFile turns direct I/O on for f, a new, empty file, and returns
// its writer; nil when the file system refuses direct I/O.
func newDirectFile(f *os.File) *directFile {
	if withFd(f, directio.Set) != nil {
		return nil
	}
	return &directFile{f: f, buf: directWindows.Get()}
}

// write places data at off, which is at or after the end of everything
// written before.
func (d *directFile) write(data []byte, off int64) error {
	if d.buffered {
		_, err := d.f.WriteAt(data, off)
		return err
	}
	for len(data) > 0 {
		if err := d.moveTo(off); err != nil {
			return err
		}
		c := copy(d.buf[d.n:], data)
		d.n += c
		data, off = data[c:], off+int64(c)
		if d.n == len(d.buf) {
			if err := d.flush(); err != nil {
				return err
			}
		}
		if d.buffered {
			_, err := d.f.WriteAt(data, off)
			return err
		}
	}
	return nil
}

// moveTo makes the window's next byte the file's byte at off: zeros fill a
// gap inside the block where the window's data ends, and a gap beyond that
// block (a hole) flushes the window and starts a new one at off's block.
func (d *directFile) moveTo(off int64) error {
	end := d.start + int64(d.n)
	if d.n > 0 && off < end {
		return fmt.Errorf("write at %d before the end of the last write, %d", off, end)
	}
	if d.n > 0 && off != end && (off >= d.start+int64(len(d.buf)) || directio.AlignDown(off) >= directio.AlignUp(end)) {
		if err := d.flush(); err != nil {
			return err
		}
	}
	if d.n == 0 {
		d.start = directio.AlignDown(off)
	}
	gap := int(off - d.start)
	clear(d.buf[d.n:gap])
	d.n = gap
	return nil
}

// flush writes the window, its last block padded with zeros (the final
// Truncate cuts the file to its size), and empties it.
func (d *directFile) flush() error {
	if d.n == 0 || d.buffered {
		return nil
	}
	buf := d.buf
	w := int(directio.AlignUp(int64(d.n)))
	clear(buf[d.n:w])
	done, err := d.f.WriteAt(buf[:w], d.start)
	if err != nil && errors.Is(err, syscall.EINVAL) {
		// Accepted at first, refused now: the page cache takes the rest.
		if err = withFd(d.f, directio.Clear); err == nil && done < d.n {
			_, err = d.f.WriteAt(buf[done:d.n], d.start+int64(done))
		}
		d.buffered = true
	}
	d.start += int64(d.n)
	d.n = 0
	return err
}

// close flushes the window and gives it back. It reports whether the file
// was written through the page cache in part, so that its pages are
// dropped.
func (d *directFile) close() (buffered bool, err error) {
	err = d.flush()
	d.release()
	return d.buffered, err
}

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

// release gives the window back without writing it.
func (d *directFile) release() {
	if d.buf != nil {
		directWindows.Put(d.buf)
		d.buf = nil
	}
}
