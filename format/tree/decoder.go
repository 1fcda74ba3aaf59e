package tree

import (
	"bufio"
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
)

// Decoder reads a tree entry by entry. It holds one entry body at a time
// (at most MaxEntrySize bytes), so a directory of millions of names streams
// in bounded memory.
//
// Entries are returned as they are read; only when Next returns io.EOF has
// the trailer (count and checksum) been verified. A caller that acts on
// entries before that (restore does) must be ready for a later corrupt
// error, as with any stream. Each entry is validated before it is returned:
// its name is always a single safe path component.
type Decoder struct {
	r     byteReader
	h     *blake3.Hasher
	body  []byte
	prev  string
	n     uint64
	sc    strCache
	began bool
	err   error // sticky; io.EOF after a verified end
}

type byteReader interface {
	io.Reader
	io.ByteReader
}

// NewDecoder returns a decoder reading from r, which must hold the tree and
// nothing else (the decoder checks that the input ends after the trailer).
// Unless r reads byte by byte cheaply (a *bufio.Reader, *bytes.Reader),
// the decoder buffers it.
func NewDecoder(r io.Reader) *Decoder {
	br, ok := r.(byteReader)
	if !ok {
		br = bufio.NewReaderSize(r, 16<<10)
	}
	return &Decoder{r: br, h: blake3.New()}
}

// Next returns the next entry, or io.EOF after the end marker and a
// verified trailer. Bad or truncated input gives an error satisfying
// format.IsCorrupt; an error from the underlying reader is returned wrapped.
// After the first error every call returns the same error.
func (d *Decoder) Next() (*Entry, error) {
	if d.err != nil {
		return nil, d.err
	}
	e, err := d.next()
	if err != nil {
		d.err = err
		d.body = nil
		return nil, err
	}
	return e, nil
}

func (d *Decoder) next() (*Entry, error) {
	if !d.began {
		d.began = true
		var hdr [len(Magic) + 1]byte
		if err := d.readFull(hdr[:], "header"); err != nil {
			return nil, err
		}
		if string(hdr[:len(Magic)]) != Magic {
			return nil, format.Corruptf("tree: bad magic %q", hdr[:len(Magic)])
		}
		if hdr[len(Magic)] != Version {
			return nil, format.VersionErrorf("tree", hdr[len(Magic)], Version)
		}
	}
	n, err := d.uvarint("entry length")
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, d.trailer()
	}
	if n > MaxEntrySize {
		return nil, format.Corruptf("tree: entry %d: length %d exceeds %d", d.n, n, MaxEntrySize)
	}
	if err := d.readBody(int(n)); err != nil {
		return nil, err
	}
	e, err := decodeEntry(d.body, &d.sc)
	if err != nil {
		return nil, fmt.Errorf("tree: entry %d: %w", d.n, err)
	}
	if d.n > 0 && e.Name <= d.prev {
		return nil, format.Corruptf("tree: entry %d: name %q does not sort after %q", d.n, e.Name, d.prev)
	}
	d.prev = e.Name
	d.n++
	return e, nil
}

// trailer checks the entry count and the checksum, then that the input ends.
func (d *Decoder) trailer() error {
	count, err := d.uvarint("entry count")
	if err != nil {
		return err
	}
	if count != d.n {
		return format.Corruptf("tree: trailer counts %d entries, stream has %d", count, d.n)
	}
	var want, got [32]byte
	d.h.Sum(want[:0])
	// The checksum itself is not hashed: read it straight from d.r.
	if _, err := io.ReadFull(d.r, got[:]); err != nil {
		return d.readErr(err, "checksum")
	}
	if subtle.ConstantTimeCompare(want[:], got[:]) != 1 {
		return format.Corruptf("tree: checksum mismatch")
	}
	if _, err := d.r.ReadByte(); err != io.EOF {
		if err != nil {
			return fmt.Errorf("tree: read past trailer: %w", err)
		}
		return format.Corruptf("tree: trailing bytes after trailer")
	}
	return io.EOF
}

// readBody reads n bytes into d.body. It grows the buffer at most twofold
// per read that succeeded, so a length that claims far more than the input
// holds costs no more memory than the input itself.
func (d *Decoder) readBody(n int) error {
	const step = 64 << 10
	b := d.body[:0]
	for len(b) < n {
		chunk := min(n-len(b), max(step, len(b)))
		if cap(b)-len(b) < chunk {
			nb := make([]byte, len(b), len(b)+chunk)
			copy(nb, b)
			b = nb
		}
		if err := d.readFull(b[len(b):len(b)+chunk], "entry"); err != nil {
			return err
		}
		b = b[:len(b)+chunk]
	}
	d.body = b
	return nil
}

// readFull reads len(p) hashed bytes.
func (d *Decoder) readFull(p []byte, what string) error {
	if _, err := io.ReadFull(d.r, p); err != nil {
		return d.readErr(err, what)
	}
	d.h.Write(p)
	return nil
}

// uvarint reads a minimal uvarint, hashing its bytes.
func (d *Decoder) uvarint(what string) (uint64, error) {
	var buf [binaryMaxVarintLen]byte
	var v uint64
	for i := 0; i < binaryMaxVarintLen; i++ {
		c, err := d.r.ReadByte()
		if err != nil {
			return 0, d.readErr(err, what)
		}
		buf[i] = c
		if i == binaryMaxVarintLen-1 && c > 1 {
			break // overflows 64 bits
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			if c == 0 && i > 0 {
				return 0, format.Corruptf("tree: non-minimal varint for %s", what)
			}
			d.h.Write(buf[:i+1])
			return v, nil
		}
	}
	return 0, format.Corruptf("tree: bad varint for %s", what)
}

const binaryMaxVarintLen = 10

// readErr maps the end of input to corruption and wraps other read errors.
func (d *Decoder) readErr(err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return format.Corruptf("tree: truncated reading %s after %d entries: %w", what, d.n, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("tree: read %s: %w", what, err)
}

// Decode decodes a whole tree held in memory.
func Decode(b []byte) ([]Entry, error) {
	d := NewDecoder(bytes.NewReader(b))
	var entries []Entry
	for {
		e, err := d.Next()
		if err == io.EOF {
			return entries, nil
		}
		if err != nil {
			return nil, err
		}
		entries = append(entries, *e)
	}
}
