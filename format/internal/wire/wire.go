package wire

import (
	"encoding/binary"
	"math"

	"github.com/holdfast-backup/holdfast/format"
)

// Reader decodes from a byte slice. The first failure is sticky: later calls
// return zero values, and Err reports the failure with the object name given
// to NewReader. Decoders therefore read a whole record and check Err once.
type Reader struct {
	object string
	buf    []byte
	off    int
	err    error
}

// NewReader returns a Reader over b. object names what is being decoded
// ("tree entry", "pack trailer") in error messages.
func NewReader(object string, b []byte) *Reader {
	return &Reader{object: object, buf: b}
}

// Err returns the first error met, or nil.
func (r *Reader) Err() error { return r.err }

// Offset returns how many bytes have been consumed.
func (r *Reader) Offset() int { return r.off }

// Len returns how many bytes remain.
func (r *Reader) Len() int { return len(r.buf) - r.off }

// Failf records a corruption error unless one is already recorded.
func (r *Reader) Failf(msg string, args ...any) {
	if r.err == nil {
		r.err = format.Corruptf(r.object+": "+msg, args...)
	}
}

// Fail records err unless an error is already recorded.
func (r *Reader) Fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *Reader) need(n int, what string) bool {
	if r.err != nil {
		return false
	}
	if n < 0 || r.Len() < n {
		r.Failf("truncated reading %s at offset %d", what, r.off)
		return false
	}
	return true
}

// Byte reads one byte.
func (r *Reader) Byte(what string) byte {
	if !r.need(1, what) {
		return 0
	}
	b := r.buf[r.off]
	r.off++
	return b
}

// Uint16 reads a big-endian uint16.
func (r *Reader) Uint16(what string) uint16 {
	if !r.need(2, what) {
		return 0
	}
	v := binary.BigEndian.Uint16(r.buf[r.off:])
	r.off += 2
	return v
}

// Uint32 reads a big-endian uint32.
func (r *Reader) Uint32(what string) uint32 {
	if !r.need(4, what) {
		return 0
	}
	v := binary.BigEndian.Uint32(r.buf[r.off:])
	r.off += 4
	return v
}

// Uint64 reads a big-endian uint64.
func (r *Reader) Uint64(what string) uint64 {
	if !r.need(8, what) {
		return 0
	}
	v := binary.BigEndian.Uint64(r.buf[r.off:])
	r.off += 8
	return v
}

// Uvarint reads a minimal unsigned LEB128 value.
func (r *Reader) Uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.buf[r.off:])
	if n <= 0 {
		r.Failf("bad varint for %s at offset %d", what, r.off)
		return 0
	}
	if n != UvarintLen(v) {
		r.Failf("non-minimal varint for %s at offset %d", what, r.off)
		return 0
	}
	r.off += n
	return v
}

// UvarintMax reads a uvarint and fails if it exceeds max.
func (r *Reader) UvarintMax(what string, max uint64) uint64 {
	v := r.Uvarint(what)
	if r.err == nil && v > max {
		r.Failf("%s %d exceeds limit %d", what, v, max)
		return 0
	}
	return v
}

// lengthOf reads a uvarint length of at most max; it names the field only
// when it fails, so the hot path builds no strings.
func (r *Reader) lengthOf(what string, max uint64) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.buf[r.off:])
	if n <= 0 || n != UvarintLen(v) || v > max {
		r.Uvarint("length of " + what) // records the precise failure
		if r.err == nil {
			r.Failf("length of %s %d exceeds limit %d", what, v, max)
		}
		return 0
	}
	r.off += n
	return v
}

// Varint reads a zig-zag signed value in minimal form.
func (r *Reader) Varint(what string) int64 {
	u := r.Uvarint(what)
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

// Bytes returns the next n bytes, aliasing the input.
func (r *Reader) Bytes(n int, what string) []byte {
	if !r.need(n, what) {
		return nil
	}
	b := r.buf[r.off : r.off+n : r.off+n]
	r.off += n
	return b
}

// LenBytes reads a uvarint length (at most max) and then that many bytes,
// aliasing the input.
func (r *Reader) LenBytes(what string, max int) []byte {
	n := r.lengthOf(what, uint64(max))
	return r.Bytes(int(n), what)
}

// String reads a length-prefixed string of at most max bytes.
func (r *Reader) String(what string, max int) string {
	return string(r.LenBytes(what, max))
}

// ID reads a 32-byte identifier.
func (r *Reader) ID(what string) format.ID {
	var id format.ID
	copy(id[:], r.Bytes(format.IDSize, what))
	return id
}

// Count reads an element count and checks it against what the remaining
// input can hold when each element needs at least minSize bytes, so that a
// hostile count cannot make the caller allocate more than the input
// justifies.
func (r *Reader) Count(what string, minSize int) int {
	n := r.lengthOf(what, math.MaxUint64)
	if r.err != nil {
		return 0
	}
	if minSize < 1 {
		minSize = 1
	}
	if n > uint64(r.Len()/minSize) {
		r.Failf("%s count %d does not fit in %d remaining bytes", what, n, r.Len())
		return 0
	}
	return int(n)
}

// ExpectEnd fails unless all input was consumed.
func (r *Reader) ExpectEnd() {
	if r.err == nil && r.Len() != 0 {
		r.Failf("%d trailing bytes", r.Len())
	}
}

// UvarintLen returns the length of the minimal encoding of v.
func UvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// AppendUvarint appends v in minimal LEB128 form.
func AppendUvarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

// AppendVarint appends v zig-zag encoded.
func AppendVarint(b []byte, v int64) []byte { return binary.AppendVarint(b, v) }

// AppendUint16 appends v big-endian.
func AppendUint16(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }

// AppendUint32 appends v big-endian.
func AppendUint32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }

// AppendUint64 appends v big-endian.
func AppendUint64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

// AppendBytes appends a uvarint length and then b.
func AppendBytes(dst, b []byte) []byte {
	dst = AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// AppendString appends a uvarint length and then s.
func AppendString(dst []byte, s string) []byte {
	dst = AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// MaxInt is the largest length a decoder will ever accept for one object.
const MaxInt = math.MaxInt32
