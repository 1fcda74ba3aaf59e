package tree

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format/internal/wire"
)

// Magic and Version open every encoded tree.
const (
	Magic   = "HFTR"
	Version = 1
)

// errClosed is returned by Add after Close.
var errClosed = errors.New("tree encoder: already closed")

// Encoder writes one directory's tree to an io.Writer, entry by entry, so a
// huge directory never has to be encoded in memory at once. Entries must come
// in strictly ascending byte order of their names.
//
// An invalid or out-of-order entry is refused and nothing is written for it;
// the encoder stays usable. A write error is sticky: every later call
// returns it.
type Encoder struct {
	w      io.Writer
	h      *blake3.Hasher
	out    []byte // bytes not yet written to w; grows only as needed
	body   []byte // reused entry buffer
	prev   string
	n      uint64
	opened bool
	closed bool
	err    error // sticky write error
}

// NewEncoder returns an encoder writing to w. Nothing is written until the
// first Add or Close.
func NewEncoder(w io.Writer) *Encoder {
	return &Encoder{w: w, h: blake3.New()}
}

// Count returns how many entries have been added.
func (enc *Encoder) Count() uint64 { return enc.n }

// Add validates e, checks it sorts after the previous entry, and writes it.
func (enc *Encoder) Add(e *Entry) error {
	if enc.err != nil {
		return enc.err
	}
	if enc.closed {
		return errClosed
	}
	if err := e.Validate(); err != nil {
		return fmt.Errorf("tree encoder: entry %d: %w", enc.n, err)
	}
	if enc.n > 0 && e.Name <= enc.prev {
		return fmt.Errorf("tree encoder: entry %d: %q does not sort after %q", enc.n, e.Name, enc.prev)
	}
	enc.body = appendEntry(enc.body[:0], e)
	if len(enc.body) > MaxEntrySize {
		return fmt.Errorf("tree encoder: entry %q: encoded size %d exceeds %d", e.Name, len(enc.body), MaxEntrySize)
	}
	enc.open()
	var lenBuf [10]byte
	enc.write(wire.AppendUvarint(lenBuf[:0], uint64(len(enc.body))))
	enc.write(enc.body)
	if enc.err != nil {
		return enc.err
	}
	enc.prev = e.Name
	enc.n++
	return nil
}

// Close writes the end marker and the trailer (entry count and checksum)
// and flushes. It does not close the underlying writer. Calling Close again
// after a successful Close does nothing.
func (enc *Encoder) Close() error {
	if enc.err != nil || enc.closed {
		return enc.err
	}
	enc.closed = true
	enc.open()
	var b [11]byte
	enc.write(wire.AppendUvarint(append(b[:0], 0), enc.n))
	var sum [32]byte
	enc.h.Sum(sum[:0])
	enc.write(sum[:])
	enc.flush()
	enc.body, enc.out = nil, nil
	return enc.err
}

func (enc *Encoder) open() {
	if !enc.opened {
		enc.opened = true
		enc.write(append([]byte(Magic), Version))
	}
}

// flushSize is how much output the encoder gathers before writing. The
// buffer starts small, so encoding a small directory allocates little.
const flushSize = 32 << 10

// write sends p to the checksum and the output buffer.
func (enc *Encoder) write(p []byte) {
	if enc.err != nil {
		return
	}
	enc.h.Write(p)
	enc.out = append(enc.out, p...)
	if len(enc.out) >= flushSize {
		enc.flush()
	}
}

func (enc *Encoder) flush() {
	if enc.err != nil || len(enc.out) == 0 {
		return
	}
	if _, err := enc.w.Write(enc.out); err != nil {
		enc.err = fmt.Errorf("tree encoder: %w", err)
	}
	enc.out = enc.out[:0]
}

// Encode encodes entries, which must be valid and sorted by name.
func Encode(entries []Entry) ([]byte, error) {
	var buf bytes.Buffer
	enc := NewEncoder(&buf)
	for i := range entries {
		if err := enc.Add(&entries[i]); err != nil {
			return nil, err
		}
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
