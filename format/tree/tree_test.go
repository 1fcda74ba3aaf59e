package tree

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/holdfast-backup/holdfast/format"
)

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []Entry
	}{
		{"empty", nil},
		{"sample", sampleEntries()},
		{"one", sampleEntries()[4:5]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Encode(tc.entries)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.entries) {
				t.Fatalf("round trip mismatch:\n got %+v\nwant %+v", got, tc.entries)
			}
			again, err := Encode(got)
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("re-encoding differs (err %v)", err)
			}
		})
	}
}

func TestStreamingDecoder(t *testing.T) {
	want := sampleEntries()
	b, _ := Encode(want)
	// One byte at a time, to exercise every read boundary.
	d := NewDecoder(iotest.OneByteReader(bytes.NewReader(b)))
	for i := range want {
		e, err := d.Next()
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		if !reflect.DeepEqual(*e, want[i]) {
			t.Fatalf("entry %d mismatch", i)
		}
	}
	for range 2 { // io.EOF is sticky
		if _, err := d.Next(); err != io.EOF {
			t.Fatalf("want io.EOF, got %v", err)
		}
	}
}

func TestTruncated(t *testing.T) {
	b, _ := Encode(sampleEntries())
	for n := range len(b) {
		_, err := Decode(b[:n])
		mustCorrupt(t, "prefix", err)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("prefix %d: %v does not wrap io.ErrUnexpectedEOF", n, err)
		}
	}
}

func TestBitFlips(t *testing.T) {
	b, _ := Encode(sampleEntries())
	for i := range len(b) * 8 {
		c := bytes.Clone(b)
		c[i/8] ^= 1 << (i % 8)
		if _, err := Decode(c); !format.IsCorrupt(err) {
			t.Fatalf("flip of bit %d: got %v", i, err)
		}
	}
}

func TestTrailerAndHeader(t *testing.T) {
	good, _ := Encode(sampleEntries())
	body := rawEntry(sampleEntries()[0])
	wrongCount := rawTree(body)
	// Rewrite the count (one byte before the checksum) and re-hash: the
	// checksum is then right and only the count is wrong.
	wrongCount = fixSum(wrongCount, func(b []byte) { b[len(b)-1] = 2 })
	v2 := fixSum(bytes.Clone(good), func(b []byte) { b[4] = 2 })
	cases := map[string][]byte{
		"empty":          {},
		"bad magic":      append([]byte("HFTX"), good[4:]...),
		"version 2":      v2,
		"trailing byte":  append(bytes.Clone(good), 0),
		"wrong count":    wrongCount,
		"bad sum":        append(bytes.Clone(good[:len(good)-1]), good[len(good)-1]^1),
		"non-min length": fixSum(append(append([]byte(Magic), Version, 0x80|byte(len(body)), 0), body...), func([]byte) {}),
		"huge varint":    append([]byte(Magic), Version, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02),
	}
	for name, b := range cases {
		_, err := Decode(b)
		mustCorrupt(t, name, err)
	}
	if _, err := Decode(v2); !errors.Is(err, format.ErrVersion) {
		t.Errorf("version 2: want ErrVersion, got %v", err)
	}
}

// fixSum applies edit to the bytes before the checksum of a stream that
// ends with one, then recomputes the checksum.
func fixSum(b []byte, edit func([]byte)) []byte {
	pre := b[:len(b)-32]
	if len(b) < 32 || !bytes.HasPrefix(b, []byte(Magic)) {
		pre = b
	}
	edit(pre)
	return append(bytes.Clone(pre), sumOf(pre)...)
}

func TestHostileNames(t *testing.T) {
	for _, name := range []string{"", ".", "..", "a/b", "/etc", "x\x00y", strings.Repeat("n", 5000), strings.Repeat("n", format.MaxNameLen+1)} {
		e := Entry{Name: name, Type: FIFO}
		if err := NewEncoder(io.Discard).Add(&e); err == nil || format.IsCorrupt(err) {
			t.Errorf("name %.20q: encoder accepted it or called it corrupt: %v", name, err)
		}
		_, err := Decode(rawTree(rawEntry(e)))
		mustCorrupt(t, "name "+name[:min(len(name), 20)], err)
	}
	// The longest allowed name is fine.
	long := Entry{Name: strings.Repeat("n", format.MaxNameLen), Type: FIFO}
	if _, err := Decode(rawTree(rawEntry(long))); err != nil {
		t.Errorf("name of MaxNameLen bytes: %v", err)
	}
}

func TestOrder(t *testing.T) {
	a := rawEntry(Entry{Name: "a", Type: FIFO})
	b := rawEntry(Entry{Name: "b", Type: FIFO})
	for name, stream := range map[string][]byte{
		"duplicate": rawTree(a, a),
		"unsorted":  rawTree(b, a),
	} {
		_, err := Decode(stream)
		mustCorrupt(t, name, err)
	}
	enc := NewEncoder(io.Discard)
	if err := enc.Add(&Entry{Name: "b", Type: FIFO}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b"} {
		if err := enc.Add(&Entry{Name: n, Type: FIFO}); err == nil {
			t.Errorf("encoder accepted %q after \"b\"", n)
		}
	}
}

// TestRefusedEntryKeepsEncoderUsable checks that a refused entry writes
// nothing: the stream still decodes.
func TestRefusedEntryKeepsEncoderUsable(t *testing.T) {
	var buf bytes.Buffer
	enc := NewEncoder(&buf)
	want := sampleEntries()
	for i := range want {
		if err := enc.Add(&want[i]); err != nil {
			t.Fatal(err)
		}
		if err := enc.Add(&Entry{Name: "zz/bad", Type: FIFO}); err == nil {
			t.Fatal("bad entry accepted")
		}
	}
	if enc.Count() != uint64(len(want)) {
		t.Fatalf("count %d", enc.Count())
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := enc.Add(&Entry{Name: "zzz", Type: FIFO}); err == nil {
		t.Fatal("Add after Close accepted")
	}
	got, err := Decode(buf.Bytes())
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("decode: %v", err)
	}
}

func TestInvalidEntries(t *testing.T) {
	data := func(n uint64, label string) Extent { return Extent{ID: testID(label), Length: n} }
	hole := func(n uint64) Extent { return Extent{Hole: true, Length: n} }
	sub := []Extent{data(10, "s")}
	cases := []struct {
		name string
		e    Entry
	}{
		{"type zero", Entry{Name: "x"}},
		{"type 8", Entry{Name: "x", Type: 8}},
		{"mode bits", Entry{Name: "x", Type: FIFO, Mode: 0o10000}},
		{"size mismatch", Entry{Name: "x", Type: File, Size: 11, Content: []Extent{data(10, "a")}}},
		{"size without content", Entry{Name: "x", Type: File, Size: 1}},
		{"sum overflows", Entry{Name: "x", Type: File, Size: 9, Content: []Extent{hole(MaxHoleLength), data(5, "a"), hole(MaxHoleLength), data(5, "b")}}},
		{"zero-length extent", Entry{Name: "x", Type: File, Content: []Extent{data(0, "a")}}},
		{"chunk too long", Entry{Name: "x", Type: File, Size: format.MaxChunkSize + 1, Content: []Extent{data(format.MaxChunkSize+1, "a")}}},
		{"adjacent holes", Entry{Name: "x", Type: File, Size: 2, Content: []Extent{hole(1), hole(1)}}},
		{"content on dir", Entry{Name: "x", Type: Dir, Subtree: sub, Content: []Extent{hole(5)}}},
		{"size on dir", Entry{Name: "x", Type: Dir, Subtree: sub, Size: 4096}},
		{"size on symlink", Entry{Name: "x", Type: Symlink, LinkTarget: "t", Size: 1}},
		{"dir without subtree", Entry{Name: "x", Type: Dir}},
		{"subtree hole", Entry{Name: "x", Type: Dir, Subtree: []Extent{hole(10)}}},
		{"subtree on file", Entry{Name: "x", Type: File, Subtree: sub}},
		{"link target on file", Entry{Name: "x", Type: File, LinkTarget: "t"}},
		{"empty link target", Entry{Name: "x", Type: Symlink}},
		{"long link target", Entry{Name: "x", Type: Symlink, LinkTarget: strings.Repeat("t", MaxLinkTarget+1)}},
		{"NUL in link target", Entry{Name: "x", Type: Symlink, LinkTarget: "a\x00b"}},
		{"rdev on fifo", Entry{Name: "x", Type: FIFO, RDevMinor: 1}},
		{"hardlink dir", Entry{Name: "x", Type: Dir, Subtree: sub, HardlinkGroup: 3}},
		{"xattrs unsorted", Entry{Name: "x", Type: FIFO, Xattrs: []Xattr{{Name: "b"}, {Name: "a"}}}},
		{"xattrs duplicate", Entry{Name: "x", Type: FIFO, Xattrs: []Xattr{{Name: "a"}, {Name: "a"}}}},
		{"xattr empty name", Entry{Name: "x", Type: FIFO, Xattrs: []Xattr{{Name: ""}}}},
		{"xattr value too long", Entry{Name: "x", Type: FIFO, Xattrs: []Xattr{{Name: "a", Value: make([]byte, MaxXattrValue+1)}}}},
		{"user too long", Entry{Name: "x", Type: FIFO, User: strings.Repeat("u", format.MaxNameLen+1)}},
	}
	for _, tc := range cases {
		if err := NewEncoder(io.Discard).Add(&tc.e); err == nil || format.IsCorrupt(err) {
			t.Errorf("%s: encoder: %v", tc.name, err)
		}
		_, err := Decode(rawTree(rawEntry(tc.e)))
		mustCorrupt(t, tc.name, err)
	}
}

func TestXattrListLimit(t *testing.T) {
	// 300 names of 255 bytes exceed the 64 KiB list limit.
	e := Entry{Name: "x", Type: FIFO}
	for i := range 300 {
		name := strings.Repeat("a", 252) + string(rune('a'+i/26/26%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i%26))
		e.Xattrs = append(e.Xattrs, Xattr{Name: name})
	}
	if err := e.Validate(); err == nil {
		t.Fatal("xattr list over 64 KiB accepted")
	}
	_, err := Decode(rawTree(rawEntry(e)))
	mustCorrupt(t, "xattr list", err)
}

func TestEntryTooLarge(t *testing.T) {
	// A file of 600,000 chunks needs more than MaxEntrySize.
	const n = 600_000
	e := Entry{Name: "big", Type: File, Size: n, Content: make([]Extent, n)}
	for i := range e.Content {
		e.Content[i] = Extent{ID: format.ID{1}, Length: 1}
	}
	if err := NewEncoder(io.Discard).Add(&e); err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Fatalf("oversized entry: %v", err)
	}
}

// TestHugeClaims checks that lengths and counts far beyond the input fail
// as corrupt without allocating what they claim.
func TestHugeClaims(t *testing.T) {
	prefix := append([]byte(Magic), Version)
	withBody := func(body []byte) []byte {
		return append(appendUvarint(bytes.Clone(prefix), uint64(len(body))), body...)
	}
	head := rawEntry(Entry{Name: "x", Type: FIFO})
	head = head[:len(head)-3] // drop the xattr, content and subtree counts
	cases := map[string][]byte{
		"entry length 16 MiB":   append(appendUvarint(bytes.Clone(prefix), MaxEntrySize), 1, 2, 3),
		"entry length too big":  appendUvarint(bytes.Clone(prefix), MaxEntrySize+1),
		"xattr count 2^40":      withBody(appendUvarint(bytes.Clone(head), 1<<40)),
		"content count 2^40":    withBody(appendUvarint(append(bytes.Clone(head), 0), 1<<40)),
		"subtree count 1000000": withBody(appendUvarint(append(bytes.Clone(head), 0, 0), 1_000_000)),
		"entry count 2^60":      appendUvarint(append(bytes.Clone(prefix), 0), 1<<60),
	}
	for name, b := range cases {
		var err error
		n := allocBytes(func() { _, err = Decode(b) })
		mustCorrupt(t, name, err)
		if n > 1<<20 {
			t.Errorf("%s: allocated %d bytes for %d bytes of input", name, n, len(b))
		}
	}
}

type failAfter struct {
	r io.Reader
	n int
}

var errDisk = errors.New("disk on fire")

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errDisk
	}
	p = p[:min(len(p), f.n)]
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

// TestReadErrorNotCorrupt checks that an I/O failure is reported as such,
// not as damage.
func TestReadErrorNotCorrupt(t *testing.T) {
	b, _ := Encode(sampleEntries())
	for _, n := range []int{0, 3, 10, len(b) / 2, len(b) - 1} {
		d := NewDecoder(&failAfter{r: bytes.NewReader(b), n: n})
		var err error
		for err == nil {
			_, err = d.Next()
		}
		if !errors.Is(err, errDisk) || format.IsCorrupt(err) {
			t.Errorf("fail after %d: got %v", n, err)
		}
	}
}

type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, errDisk }

func TestWriteErrorSticky(t *testing.T) {
	enc := NewEncoder(errWriter{})
	e := sampleEntries()[0]
	_ = enc.Add(&e) // buffered: may succeed
	if err := enc.Close(); !errors.Is(err, errDisk) {
		t.Fatalf("Close: %v", err)
	}
	e.Name = "zzz"
	if err := enc.Add(&e); !errors.Is(err, errDisk) {
		t.Fatalf("Add after failure: %v", err)
	}
}

func TestTypeString(t *testing.T) {
	if File.String() != "file" || Type(9).String() != "type(9)" || Type(0).Valid() {
		t.Fatal("Type.String/Valid")
	}
}
