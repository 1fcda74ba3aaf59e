package wire

import (
	"testing"

	"github.com/holdfast-backup/holdfast/format"
)

func TestRoundTrip(t *testing.T) {
	var b []byte
	b = append(b, 7)
	b = AppendUint16(b, 0xBEEF)
	b = AppendUint32(b, 0xDEADBEEF)
	b = AppendUint64(b, 1<<60+5)
	b = AppendUvarint(b, 300)
	b = AppendVarint(b, -12345)
	b = AppendString(b, "héllo")
	r := NewReader("test", b)
	if r.Byte("b") != 7 || r.Uint16("u16") != 0xBEEF || r.Uint32("u32") != 0xDEADBEEF ||
		r.Uint64("u64") != 1<<60+5 || r.Uvarint("uv") != 300 || r.Varint("v") != -12345 ||
		r.String("s", 100) != "héllo" {
		t.Fatalf("round trip mismatch, err=%v", r.Err())
	}
	r.ExpectEnd()
	if r.Err() != nil {
		t.Fatal(r.Err())
	}
}

func TestRejects(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		read func(r *Reader)
	}{
		{"truncated u32", []byte{1, 2, 3}, func(r *Reader) { r.Uint32("x") }},
		{"non-minimal varint", []byte{0x80, 0x00}, func(r *Reader) { r.Uvarint("x") }},
		{"overlong varint", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, func(r *Reader) { r.Uvarint("x") }},
		{"string too long", []byte{5, 'a', 'b'}, func(r *Reader) { r.String("x", 100) }},
		{"string over limit", append([]byte{5}, "abcde"...), func(r *Reader) { r.String("x", 4) }},
		{"count too big", []byte{200, 1, 0}, func(r *Reader) { r.Count("x", 1) }},
		{"trailing", []byte{1, 2}, func(r *Reader) { r.Byte("x"); r.ExpectEnd() }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := NewReader("test", c.in)
			c.read(r)
			if !format.IsCorrupt(r.Err()) {
				t.Fatalf("want corrupt error, got %v", r.Err())
			}
		})
	}
}

func TestStickyError(t *testing.T) {
	r := NewReader("test", []byte{1})
	r.Uint32("first")
	first := r.Err()
	r.Byte("second")
	if r.Err() != first {
		t.Fatalf("error not sticky: %v then %v", first, r.Err())
	}
}
