package snapshot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"testing"
	"testing/iotest"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
)

// readAllRefs drains a RefReader.
func readAllRefs(r io.Reader) ([]format.ID, format.ID, error) {
	rr := NewRefReader(r)
	var ids []format.ID
	for {
		id, err := rr.Next()
		if err == io.EOF {
			return ids, rr.Sum(), nil
		}
		if err != nil {
			return nil, format.ID{}, err
		}
		ids = append(ids, id)
	}
}

// rawRefs encodes ids as given (no order check) with a valid checksum and
// the given count.
func rawRefs(count uint64, ids ...format.ID) []byte {
	b := appendRefsHeader(nil, count)
	for _, id := range ids {
		b = append(b, id[:]...)
	}
	sum := blake3.Sum256(b)
	return append(b, sum[:]...)
}

func manyRefs(n int) []format.ID {
	raw := xof("many refs", n*format.IDSize)
	ids := make([]format.ID, n)
	for i := range ids {
		copy(ids[i][:], raw[i*format.IDSize:])
	}
	return SortRefs(ids)
}

func TestRefsRoundTrip(t *testing.T) {
	for _, ids := range [][]format.ID{nil, sampleRefs(), manyRefs(5000)} {
		b, err := EncodeRefs(ids)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(b)) != RefsSize(uint64(len(ids))) {
			t.Fatalf("size %d, RefsSize %d", len(b), RefsSize(uint64(len(ids))))
		}
		got, err := DecodeRefs(b)
		if err != nil || len(got) != len(ids) || (len(ids) > 0 && !reflect.DeepEqual(got, ids)) {
			t.Fatalf("DecodeRefs: %v", err)
		}
		// Streaming, one byte at a time.
		got, sum, err := readAllRefs(iotest.OneByteReader(bytes.NewReader(b)))
		if err != nil || len(got) != len(ids) || (len(ids) > 0 && !reflect.DeepEqual(got, ids)) {
			t.Fatalf("RefReader: %v", err)
		}
		hash, _ := RefsHash(ids)
		if sum != hash || !bytes.Equal(hash[:], b[len(b)-32:]) {
			t.Fatal("reader Sum, RefsHash and the trailing checksum differ")
		}
		var buf bytes.Buffer
		w := NewRefWriter(&buf, uint64(len(ids)))
		for _, id := range ids {
			if err := w.Add(id); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), b) || w.Sum() != hash {
			t.Fatal("RefWriter output differs from EncodeRefs")
		}
	}
}

func TestRefsTruncatedAndFlipped(t *testing.T) {
	b, _ := EncodeRefs(sampleRefs())
	check := func(what string, c []byte) {
		t.Helper()
		_, err := DecodeRefs(c)
		mustCorrupt(t, what+" (DecodeRefs)", err)
		_, _, err = readAllRefs(bytes.NewReader(c))
		mustCorrupt(t, what+" (RefReader)", err)
	}
	for n := range len(b) {
		check("prefix", b[:n])
	}
	check("trailing byte", append(bytes.Clone(b), 0))
	for i := range len(b) * 8 {
		c := bytes.Clone(b)
		c[i/8] ^= 1 << (i % 8)
		check("bit flip", c)
	}
}

func TestRefsBadContent(t *testing.T) {
	a, b := testID("a"), testID("b")
	if a.Compare(b) > 0 {
		a, b = b, a
	}
	v2 := rawRefs(1, a)
	v2[4] = 2
	cases := map[string][]byte{
		"unsorted":        rawRefs(2, b, a),
		"duplicate":       rawRefs(2, a, a),
		"count too big":   rawRefs(3, a, b),
		"count too small": rawRefs(1, a, b),
		"bad magic":       append([]byte("HFRX"), rawRefs(1, a)[4:]...),
		"version 2":       v2,
	}
	for name, c := range cases {
		_, err := DecodeRefs(c)
		mustCorrupt(t, name+" (DecodeRefs)", err)
		_, _, err = readAllRefs(bytes.NewReader(c))
		mustCorrupt(t, name+" (RefReader)", err)
	}
	if _, err := DecodeRefs(v2); !errors.Is(err, format.ErrVersion) {
		t.Errorf("version 2: %v", err)
	}
	if _, err := EncodeRefs([]format.ID{b, a}); err == nil || format.IsCorrupt(err) {
		t.Errorf("EncodeRefs unsorted: %v", err)
	}
	if _, err := RefsHash([]format.ID{a, a}); err == nil {
		t.Error("RefsHash accepted a duplicate")
	}
}

// TestRefsHugeCount: a count far beyond the input fails without allocating
// for it.
func TestRefsHugeCount(t *testing.T) {
	for _, count := range []uint64{1 << 20, 1 << 58, 1<<64 - 1} {
		b := binary.BigEndian.AppendUint64(append([]byte(RefsMagic), RefsVersion), count)
		b = append(b, make([]byte, 64)...)
		var err error
		n := allocBytes(func() { _, err = DecodeRefs(b) })
		mustCorrupt(t, "DecodeRefs", err)
		if n > 4<<10 {
			t.Errorf("DecodeRefs count %d: allocated %d bytes", count, n)
		}
		n = allocBytes(func() { _, _, err = readAllRefs(bytes.NewReader(b)) })
		mustCorrupt(t, "RefReader", err)
		if n > 256<<10 {
			t.Errorf("RefReader count %d: allocated %d bytes", count, n)
		}
	}
	if RefsSize(1<<64-1) != -1 || RefsSize(1<<58) != -1 {
		t.Error("RefsSize overflow")
	}
}

func TestRefWriterMisuse(t *testing.T) {
	ids := sampleRefs()
	var buf bytes.Buffer
	w := NewRefWriter(&buf, 2)
	if err := w.Add(ids[1]); err != nil {
		t.Fatal(err)
	}
	if err := w.Add(ids[0]); err == nil {
		t.Fatal("descending ID accepted")
	}
	if err := w.Add(ids[1]); err == nil {
		t.Fatal("duplicate ID accepted")
	}
	if err := w.Close(); err == nil {
		t.Fatal("Close with too few IDs accepted")
	}
	if err := w.Add(ids[2]); err != nil {
		t.Fatal(err)
	}
	if err := w.Add(ids[3]); err == nil {
		t.Fatal("more IDs than announced accepted")
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Add(ids[4]); err == nil {
		t.Fatal("Add after Close accepted")
	}
	got, err := DecodeRefs(buf.Bytes())
	if err != nil || !reflect.DeepEqual(got, []format.ID{ids[1], ids[2]}) {
		t.Fatalf("decode: %v", err)
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

func TestRefReaderIOError(t *testing.T) {
	b, _ := EncodeRefs(sampleRefs())
	for _, n := range []int{0, 5, 40, len(b) - 1} {
		_, _, err := readAllRefs(&failAfter{r: bytes.NewReader(b), n: n})
		if !errors.Is(err, errDisk) || format.IsCorrupt(err) {
			t.Errorf("fail after %d: %v", n, err)
		}
	}
	rr := NewRefReader(bytes.NewReader(b))
	if c, err := rr.Count(); err != nil || c != uint64(len(sampleRefs())) {
		t.Fatalf("Count: %d %v", c, err)
	}
}

func TestSortRefs(t *testing.T) {
	a, b := testID("a"), testID("b")
	got := SortRefs([]format.ID{b, a, b, a, a})
	if len(got) != 2 || got[0].Compare(got[1]) >= 0 {
		t.Fatalf("SortRefs: %v", got)
	}
}
