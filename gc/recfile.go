package gc

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
)

// recFile is a temporary file of fixed-size records, written once in
// order and then read back in order. Mark writes the union of all
// reference lists and the sorted candidates to such files, so that memory
// stays bounded however many chunks the repository holds.
type recFile struct {
	f    *os.File
	w    *bufio.Writer
	size int
	n    int64
}

const recBuffer = 256 << 10

func newRecFile(dir, pattern string, size int) (*recFile, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, fmt.Errorf("gc: temporary file: %w", errors.Unwrap(err))
	}
	return &recFile{f: f, w: bufio.NewWriterSize(f, recBuffer), size: size}, nil
}

func (r *recFile) write(rec []byte) error {
	r.n++
	_, err := r.w.Write(rec[:r.size])
	return err
}

// reader flushes what was written and returns a reader from the start.
func (r *recFile) reader() (*recReader, error) {
	if err := r.w.Flush(); err != nil {
		return nil, fmt.Errorf("gc: temporary file: %w", err)
	}
	return &recReader{r: bufio.NewReaderSize(io.NewSectionReader(r.f, 0, r.n*int64(r.size)), recBuffer), buf: make([]byte, r.size)}, nil
}

// close removes the file.
func (r *recFile) close() {
	name := r.f.Name()
	r.f.Close()
	os.Remove(name)
}

type recReader struct {
	r   *bufio.Reader
	buf []byte
}

// next returns the next record (valid until the following call) or io.EOF.
func (r *recReader) next() ([]byte, error) {
	if _, err := io.ReadFull(r.r, r.buf); err != nil {
		if err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("gc: temporary file truncated")
		}
		return nil, err
	}
	return r.buf, nil
}
