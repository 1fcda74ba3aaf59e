package snapshot

import (
	"bytes"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
)

// Magic and version of a reference list.
const (
	RefsMagic   = "HFRL"
	RefsVersion = 1
)

// refsHeaderSize is magic, version and the 8-byte count; the IDs follow and
// a 32-byte checksum ends the list.
const (
	refsHeaderSize = len(RefsMagic) + 1 + 8
	refsSumSize    = 32
)

// refsBlock is how many IDs the streaming reader and writer hash, read and
// write at a time; their buffers hold at most this many.
const refsBlock = 2048

// RefsSize returns the encoded size of a list of count IDs, or -1 if it
// does not fit in an int64.
func RefsSize(count uint64) int64 {
	if count > (1<<63-1-uint64(refsHeaderSize+refsSumSize))/format.IDSize {
		return -1
	}
	return int64(refsHeaderSize+refsSumSize) + int64(count)*format.IDSize
}

func appendRefsHeader(b []byte, count uint64) []byte {
	b = append(b, RefsMagic...)
	b = append(b, RefsVersion)
	return binary.BigEndian.AppendUint64(b, count)
}

// RefWriter streams a reference list. The count goes first in the
// encoding, so it is fixed when the writer is made; Add must then be called
// exactly count times with strictly ascending IDs.
type RefWriter struct {
	w      io.Writer
	h      *blake3.Hasher
	count  uint64
	n      uint64
	prev   format.ID
	block  []byte // IDs not hashed yet
	sum    format.ID
	closed bool
	err    error // sticky write error
}

// NewRefWriter returns a writer of a list of count IDs to w.
func NewRefWriter(w io.Writer, count uint64) *RefWriter {
	rw := &RefWriter{w: w, h: blake3.New(), count: count}
	// Room for the header and up to refsBlock IDs: small lists stay small.
	rw.block = appendRefsHeader(make([]byte, 0, refsHeaderSize+int(min(count, refsBlock))*format.IDSize), count)
	return rw
}

// Add appends id. An ID that does not sort strictly after the previous one,
// or one beyond count, is refused and not written; the writer stays usable.
func (rw *RefWriter) Add(id format.ID) error {
	if rw.err != nil {
		return rw.err
	}
	if rw.closed {
		return errors.New("reference list: Add after Close")
	}
	if rw.n == rw.count {
		return fmt.Errorf("reference list: more than the %d IDs announced", rw.count)
	}
	if rw.n > 0 && bytes.Compare(id[:], rw.prev[:]) <= 0 {
		return fmt.Errorf("reference list: ID %d (%s) does not sort after %s", rw.n, id.Short(), rw.prev.Short())
	}
	rw.block = append(rw.block, id[:]...)
	if len(rw.block) >= refsBlock*format.IDSize {
		rw.flushBlock()
	}
	rw.prev = id
	rw.n++
	return rw.err
}

func (rw *RefWriter) flushBlock() {
	if rw.err != nil {
		return
	}
	rw.h.Write(rw.block)
	if _, err := rw.w.Write(rw.block); err != nil {
		rw.err = fmt.Errorf("reference list: %w", err)
	}
	rw.block = rw.block[:0]
}

// Close writes the checksum and flushes. It fails if fewer IDs than
// announced were added. It does not close the underlying writer.
func (rw *RefWriter) Close() error {
	if rw.err != nil || rw.closed {
		return rw.err
	}
	if rw.n != rw.count {
		return fmt.Errorf("reference list: %d IDs added, %d announced", rw.n, rw.count)
	}
	rw.closed = true
	// The checksum goes out with the last IDs, not hashed: one final write.
	rw.h.Write(rw.block)
	rw.h.Sum(rw.sum[:0])
	rw.block = append(rw.block, rw.sum[:]...)
	if _, err := rw.w.Write(rw.block); err != nil {
		rw.err = fmt.Errorf("reference list: %w", err)
	}
	rw.block = nil
	return rw.err
}

// Sum returns the list's checksum, which is also the header's RefsHash. It
// is valid after a successful Close.
func (rw *RefWriter) Sum() format.ID { return rw.sum }

// RefReader streams a reference list, checking order, count and checksum.
type RefReader struct {
	r     io.Reader
	h     *blake3.Hasher
	count uint64
	n     uint64 // IDs returned
	prev  format.ID
	block []byte // hashed IDs not returned yet
	buf   []byte // backing array of block
	sum   format.ID
	began bool
	err   error // sticky; io.EOF after a verified end
}

// NewRefReader returns a reader of the list in r, which must hold the list
// and nothing else. IDs are read in blocks of up to 64 KiB, so r needs no
// buffering.
func NewRefReader(r io.Reader) *RefReader {
	return &RefReader{r: r, h: blake3.New()}
}

// Count reads the list header if needed and returns the announced count.
func (rr *RefReader) Count() (uint64, error) {
	if !rr.began {
		rr.began = true
		if err := rr.header(); err != nil {
			rr.err = err
		}
	}
	if rr.err != nil && rr.err != io.EOF {
		return 0, rr.err
	}
	return rr.count, nil
}

func (rr *RefReader) header() error {
	var hdr [refsHeaderSize]byte
	if _, err := io.ReadFull(rr.r, hdr[:]); err != nil {
		return refsReadErr(err, "header")
	}
	if string(hdr[:len(RefsMagic)]) != RefsMagic {
		return format.Corruptf("reference list: bad magic %q", hdr[:len(RefsMagic)])
	}
	if v := hdr[len(RefsMagic)]; v != RefsVersion {
		return format.VersionErrorf("reference list", v, RefsVersion)
	}
	rr.count = binary.BigEndian.Uint64(hdr[len(RefsMagic)+1:])
	rr.h.Write(hdr[:])
	return nil
}

// Next returns the next ID, or io.EOF once all count IDs were returned and
// the checksum and the end of input were verified. Bad input gives an error
// satisfying format.IsCorrupt; after any error Next keeps returning it.
func (rr *RefReader) Next() (format.ID, error) {
	if _, err := rr.Count(); err != nil {
		return format.ID{}, err
	}
	if rr.err != nil {
		return format.ID{}, rr.err
	}
	id, err := rr.next()
	if err != nil {
		rr.err = err
		rr.buf, rr.block = nil, nil
	}
	return id, err
}

func (rr *RefReader) next() (format.ID, error) {
	var id format.ID
	if len(rr.block) == 0 {
		left := rr.count - rr.n
		if left == 0 {
			return id, rr.trailer()
		}
		if rr.buf == nil {
			rr.buf = make([]byte, min(left, refsBlock)*format.IDSize)
		}
		rr.block = rr.buf[:min(left, refsBlock)*format.IDSize]
		if _, err := io.ReadFull(rr.r, rr.block); err != nil {
			return id, refsReadErr(err, "IDs")
		}
		rr.h.Write(rr.block)
	}
	copy(id[:], rr.block)
	rr.block = rr.block[format.IDSize:]
	if rr.n > 0 && bytes.Compare(id[:], rr.prev[:]) <= 0 {
		return format.ID{}, format.Corruptf("reference list: ID %d does not sort after the previous one", rr.n)
	}
	rr.prev = id
	rr.n++
	return id, nil
}

func (rr *RefReader) trailer() error {
	var got [refsSumSize]byte
	if _, err := io.ReadFull(rr.r, got[:]); err != nil {
		return refsReadErr(err, "checksum")
	}
	rr.h.Sum(rr.sum[:0])
	if subtle.ConstantTimeCompare(rr.sum[:], got[:]) != 1 {
		rr.sum = format.ID{}
		return format.Corruptf("reference list: checksum mismatch")
	}
	var one [1]byte
	if _, err := io.ReadFull(rr.r, one[:]); err != io.EOF {
		rr.sum = format.ID{}
		if err != nil {
			return fmt.Errorf("reference list: read past checksum: %w", err)
		}
		return format.Corruptf("reference list: trailing bytes after checksum")
	}
	return io.EOF
}

// Sum returns the verified checksum (the RefsHash) once Next returned
// io.EOF; before that it returns the zero ID.
func (rr *RefReader) Sum() format.ID { return rr.sum }

func refsReadErr(err error, what string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return format.Corruptf("reference list: truncated reading %s: %w", what, io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("reference list: read %s: %w", what, err)
}

// EncodeRefs encodes ids, which must be strictly ascending (see SortRefs).
func EncodeRefs(ids []format.ID) ([]byte, error) {
	if err := checkAscending(ids); err != nil {
		return nil, err
	}
	b := appendRefsHeader(make([]byte, 0, RefsSize(uint64(len(ids)))), uint64(len(ids)))
	for i := range ids {
		b = append(b, ids[i][:]...)
	}
	sum := blake3.Sum256(b)
	return append(b, sum[:]...), nil
}

// DecodeRefs decodes a whole list held in memory. The length must match the
// count exactly before anything is allocated.
func DecodeRefs(b []byte) ([]format.ID, error) {
	if len(b) < refsHeaderSize+refsSumSize {
		return nil, format.Corruptf("reference list: %d bytes is too short", len(b))
	}
	if string(b[:len(RefsMagic)]) != RefsMagic {
		return nil, format.Corruptf("reference list: bad magic %q", b[:len(RefsMagic)])
	}
	if v := b[len(RefsMagic)]; v != RefsVersion {
		return nil, format.VersionErrorf("reference list", v, RefsVersion)
	}
	count := binary.BigEndian.Uint64(b[len(RefsMagic)+1:])
	if RefsSize(count) != int64(len(b)) {
		return nil, format.Corruptf("reference list: count %d does not match length %d", count, len(b))
	}
	body := b[:len(b)-refsSumSize]
	sum := blake3.Sum256(body)
	if subtle.ConstantTimeCompare(sum[:], b[len(body):]) != 1 {
		return nil, format.Corruptf("reference list: checksum mismatch")
	}
	ids := make([]format.ID, count)
	body = body[refsHeaderSize:]
	for i := range ids {
		copy(ids[i][:], body[i*format.IDSize:])
		if i > 0 && bytes.Compare(ids[i][:], ids[i-1][:]) <= 0 {
			return nil, format.Corruptf("reference list: ID %d does not sort after the previous one", i)
		}
	}
	return ids, nil
}

// RefsHash returns the checksum that ends the encoding of ids, the value a
// header's RefsHash holds. ids must be strictly ascending.
func RefsHash(ids []format.ID) (format.ID, error) {
	if err := checkAscending(ids); err != nil {
		return format.ID{}, err
	}
	h := blake3.New()
	h.Write(appendRefsHeader(nil, uint64(len(ids))))
	for i := range ids {
		h.Write(ids[i][:])
	}
	var sum format.ID
	h.Sum(sum[:0])
	return sum, nil
}

// SortRefs sorts ids and removes duplicates in place, returning the
// shortened slice.
func SortRefs(ids []format.ID) []format.ID {
	slices.SortFunc(ids, func(a, b format.ID) int { return bytes.Compare(a[:], b[:]) })
	return slices.Compact(ids)
}

func checkAscending(ids []format.ID) error {
	for i := 1; i < len(ids); i++ {
		if bytes.Compare(ids[i][:], ids[i-1][:]) <= 0 {
			return fmt.Errorf("reference list: ID %d (%s) does not sort after %s", i, ids[i].Short(), ids[i-1].Short())
		}
	}
	return nil
}
