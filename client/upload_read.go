package client

import (
	"errors"
	"fmt"
	"io"

	"golang.org/x/sys/unix"

	"github.com/holdfast-backup/holdfast/format/chunker"
	"github.com/holdfast-backup/holdfast/format/seal"
	"github.com/holdfast-backup/holdfast/format/tree"
)

// errBkChanged reports a file whose size or mtime moved while it
// was read, twice in a row. What the second read saw is stored.
var errBkChanged = errors.New("changed while being read (twice); stored the second read, which may be inconsistent")

// backupHooks let tests inject faults a privileged test process cannot
// produce for real (root reads a file of mode 000). Nil in production.
var backupHooks struct {
	open      func(path string) error        // called before open; an error fails it
	afterRead func(path string, attempt int) // called after reading, before the check
	scanned   func()                         // called when the scanner has listed every directory
}

// bkFileJob is one regular file for the readers. The walker fills path and
// st (its lstat); the reader fills the rest and closes done.
type bkFileJob struct {
	path string
	st   unix.Stat_t
	done chan struct{}

	content []tree.Extent
	size    uint64 // logical bytes read, holes included
	err     error  // could not be read: the file is left out
	warn    error  // stored, but inconsistent (errBkChanged)
}

func (p *backupPipe) readLoop() {
	ch, err := chunker.New(nil, p.r.Chunker, p.r.Gear)
	if err != nil {
		p.fail(err)
	}
	for j := range p.jobs {
		if err != nil || p.ctx.Err() != nil {
			j.err = p.failed()
		} else {
			p.readFile(ch, j)
		}
		close(j.done)
	}
}

// readFile reads, chunks and offers one file. A file whose size or mtime
// differ after the read from the lstat before it is read once more, from a
// fresh lstat; if it changes again it is stored as read, with a warning.
func (p *backupPipe) readFile(ch *chunker.Chunker, j *bkFileJob) {
	for attempt := 0; ; attempt++ {
		content, n, changed, err := p.readOnce(ch, j, attempt)
		if err != nil {
			j.err = err
			return
		}
		j.content, j.size = content, n
		if !changed {
			return
		}
		if attempt == 1 {
			j.warn = errBkChanged
			return
		}
		if err := unix.Lstat(j.path, &j.st); err != nil {
			j.err = fmt.Errorf("lstat: %w", err)
			return
		}
		if j.st.Mode&unix.S_IFMT != unix.S_IFREG {
			j.err = errors.New("replaced by a non-file while being read")
			return
		}
	}
}

// readOnce reads the file once. changed reports that it is not the file
// (or not the content) that j.st describes.
func (p *backupPipe) readOnce(ch *chunker.Chunker, j *bkFileJob, attempt int) (content []tree.Extent, n uint64, changed bool, err error) {
	f, err := bkOpen(j.path)
	if err != nil {
		return nil, 0, false, err
	}
	defer f.Close()
	var cur unix.Stat_t
	if err := unix.Fstat(f.fd, &cur); err != nil {
		return nil, 0, false, fmt.Errorf("fstat: %w", err)
	}
	if cur.Ino != j.st.Ino || cur.Dev != j.st.Dev || cur.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, 0, true, nil // replaced between lstat and open
	}
	content, n, err = p.chunkFile(ch, f, &j.st)
	if err != nil {
		if p.ctx.Err() != nil {
			return nil, 0, false, p.failed()
		}
		return nil, 0, false, err
	}
	if h := backupHooks.afterRead; h != nil {
		h(j.path, attempt)
	}
	if err := unix.Fstat(f.fd, &cur); err != nil {
		return nil, 0, false, fmt.Errorf("fstat: %w", err)
	}
	changed = n != uint64(j.st.Size) || cur.Size != j.st.Size || cur.Mtim != j.st.Mtim
	// Without O_NOATIME the read may have moved the atime (relatime does,
	// once after a change): record it as the read left it, so the next
	// backup sees the same value and the directory's tree stays the same.
	j.st.Atim = cur.Atim
	return content, n, changed, nil
}

// bkOpen opens path for reading without following a symlink and,
// where allowed, without updating its atime.
func bkOpen(path string) (*bkFile, error) {
	if h := backupHooks.open; h != nil {
		if err := h(path); err != nil {
			return nil, err
		}
	}
	flags := unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_CLOEXEC | unix.O_NONBLOCK
	fd, err := unix.Open(path, flags|oNoAtime, 0)
	if err == unix.EPERM { // O_NOATIME needs ownership or CAP_FOWNER
		fd, err = unix.Open(path, flags, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	return &bkFile{fd: fd}, nil
}

// chunkFile chunks the file's data and returns its extents. A file that
// may be sparse (fewer blocks than its size) is read region by region with
// SEEK_DATA and SEEK_HOLE: each data region is chunked on its own and each
// gap becomes a hole extent. n counts logical bytes, holes included.
func (p *backupPipe) chunkFile(ch *chunker.Chunker, f *bkFile, st *unix.Stat_t) ([]tree.Extent, uint64, error) {
	var exts []tree.Extent
	if st.Size > 0 && st.Blocks*512 < st.Size {
		exts, n, err := p.chunkSparse(ch, f, st.Size)
		if !errors.Is(err, errBkNoSeekData) {
			return exts, n, err
		}
	}
	return p.chunkRange(ch, f, exts)
}

var errBkNoSeekData = errors.New("SEEK_DATA not supported")

func (p *backupPipe) chunkSparse(ch *chunker.Chunker, f *bkFile, size int64) ([]tree.Extent, uint64, error) {
	fd := f.fd
	var exts []tree.Extent
	var n uint64
	for off := int64(0); off < size; {
		data, err := unix.Seek(fd, off, unix.SEEK_DATA)
		switch {
		case err == unix.ENXIO: // no data after off
			data = size
		case err != nil && off == 0:
			return nil, 0, errBkNoSeekData
		case err != nil:
			return nil, 0, fmt.Errorf("seek data: %w", err)
		}
		data = min(data, size)
		if data > off {
			exts = bkAppendHole(exts, uint64(data-off))
			n += uint64(data - off)
		}
		if data >= size {
			break
		}
		end, err := unix.Seek(fd, data, unix.SEEK_HOLE)
		if err != nil {
			return nil, 0, fmt.Errorf("seek hole: %w", err)
		}
		// A file that grew is read up to its old size; the check after
		// the read notices the change.
		end = min(end, size)
		var m uint64
		if exts, m, err = p.chunkRange(ch, io.NewSectionReader(f, data, end-data), exts); err != nil {
			return nil, 0, err
		}
		n += m
		if m != uint64(end-data) {
			return exts, n, nil // shrank while read: reported as changed
		}
		off = end
	}
	return exts, n, nil
}

func bkAppendHole(exts []tree.Extent, length uint64) []tree.Extent {
	if k := len(exts); k > 0 && exts[k-1].Hole {
		exts[k-1].Length += length
		return exts
	}
	return append(exts, tree.Extent{Length: length, Hole: true})
}

// chunkRange chunks r to its end, appending to exts, and offers every
// chunk for upload.
func (p *backupPipe) chunkRange(ch *chunker.Chunker, r io.Reader, exts []tree.Extent) ([]tree.Extent, uint64, error) {
	ch.Reset(r)
	var n uint64
	for {
		c, err := ch.Next()
		if err == io.EOF {
			return exts, n, nil
		}
		if err != nil {
			return nil, 0, fmt.Errorf("read: %w", unwrapPathErr(err))
		}
		id := p.r.Sealer.ID(c)
		exts = append(exts, tree.Extent{ID: id, Length: uint64(len(c))})
		n += uint64(len(c))
		p.bytesRead.Add(uint64(len(c)))
		if err := p.offer(seal.TypeData, id, c); err != nil {
			return nil, 0, err
		}
	}
}
