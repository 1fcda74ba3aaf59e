package pack

import (
	"bytes"
	"errors"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
)

// xof returns n deterministic bytes derived from label, so test data never
// depends on math/rand or the Go version.
func xof(label string, n int) []byte {
	h := blake3.New()
	h.WriteString(label)
	b := make([]byte, n)
	h.Digest().Read(b)
	return b
}

func xofID(label string) format.ID { return format.ID(xof(label, format.IDSize)) }

type record struct {
	id  format.ID
	env []byte
}

func records(label string, sizes ...int) []record {
	rs := make([]record, len(sizes))
	for i, n := range sizes {
		rs[i] = record{xofID(label + " id " + string(rune('a'+i))), xof(label+" envelope "+string(rune('a'+i)), n)}
	}
	return rs
}

func build(t testing.TB, rs []record) ([]byte, format.ID, []Entry) {
	t.Helper()
	b := NewBuilder()
	for _, r := range rs {
		if err := b.Add(r.id, r.env); err != nil {
			t.Fatal(err)
		}
	}
	data, id, entries, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(data), id, entries
}

func TestRoundTrip(t *testing.T) {
	for _, sizes := range [][]int{{1}, {200, 37, 513}, {1, 1, 1, 1, 1}, {format.MaxEnvelopeSize, 3}} {
		rs := records("round trip", sizes...)
		b := NewBuilder()
		var wbuf bytes.Buffer
		w := NewWriter(&wbuf)
		for _, r := range rs {
			if err := b.Add(r.id, r.env); err != nil {
				t.Fatal(err)
			}
			if err := w.Add(r.id, r.env); err != nil {
				t.Fatal(err)
			}
			if !b.Has(r.id) || !w.Has(r.id) {
				t.Fatal("Has = false after Add")
			}
		}
		wantLen := b.Len()
		if w.Len() != wantLen || w.Count() != len(rs) || b.Count() != len(rs) {
			t.Fatalf("Len/Count disagree: builder %d/%d writer %d/%d", wantLen, b.Count(), w.Len(), w.Count())
		}
		data, id, entries, err := b.Finish()
		if err != nil {
			t.Fatal(err)
		}
		if len(data) != wantLen {
			t.Fatalf("Len() = %d before Finish, pack is %d bytes", wantLen, len(data))
		}
		wid, wentries, err := w.Finish()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(wbuf.Bytes(), data) || wid != id || len(wentries) != len(entries) {
			t.Fatal("Writer and Builder disagree")
		}
		if id != IDOf(data) {
			t.Fatal("ID is not BLAKE3 of the pack")
		}
		parsed, err := Parse(data)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range parsed {
			if e != entries[i] || e.ID != rs[i].id || !bytes.Equal(data[e.Offset:e.End()], rs[i].env) {
				t.Fatalf("entry %d: got %+v, want %+v", i, e, entries[i])
			}
			if err := VerifyRecord(e, rs[i].env); err != nil {
				t.Fatal(err)
			}
		}
		// Re-encoding the parsed trailer and footer gives the same bytes.
		f, _ := DecodeFooter(data[len(data)-FooterSize:])
		tail := AppendFooter(AppendTrailer(nil, parsed), f)
		if !bytes.Equal(tail, data[f.TrailerOffset:]) {
			t.Fatal("re-encoded trailer and footer differ")
		}
	}
}

func TestBuilderErrors(t *testing.T) {
	rs := records("errors", 10, 20)
	cases := []struct {
		name string
		run  func(b *Builder) error
		want error
	}{
		{"duplicate", func(b *Builder) error {
			b.Add(rs[0].id, rs[0].env)
			return b.Add(rs[0].id, rs[1].env)
		}, ErrDuplicate},
		{"empty envelope", func(b *Builder) error { return b.Add(rs[0].id, nil) }, ErrEnvelopeSize},
		{"oversize envelope", func(b *Builder) error {
			return b.Add(rs[0].id, make([]byte, format.MaxEnvelopeSize+1))
		}, ErrEnvelopeSize},
		{"empty pack", func(b *Builder) error { _, _, _, err := b.Finish(); return err }, ErrEmpty},
		{"add after finish", func(b *Builder) error {
			b.Add(rs[0].id, rs[0].env)
			b.Finish()
			return b.Add(rs[1].id, rs[1].env)
		}, ErrFinished},
		{"finish twice", func(b *Builder) error {
			b.Add(rs[0].id, rs[0].env)
			b.Finish()
			_, _, _, err := b.Finish()
			return err
		}, ErrFinished},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := NewBuilder()
			if err := c.run(b); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			b.Reset()
			for _, r := range rs {
				if err := b.Add(r.id, r.env); err != nil {
					t.Fatalf("after Reset: %v", err)
				}
			}
			if _, _, _, err := b.Finish(); err != nil {
				t.Fatalf("after Reset: %v", err)
			}
		})
	}
}

func TestBuilderStickyError(t *testing.T) {
	rs := records("sticky", 10, 20)
	b := NewBuilder()
	b.Add(rs[0].id, rs[0].env)
	if err := b.Add(rs[0].id, rs[0].env); !errors.Is(err, ErrDuplicate) {
		t.Fatal(err)
	}
	if err := b.Add(rs[1].id, rs[1].env); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("Add after failure: %v, want the sticky error", err)
	}
	if _, _, _, err := b.Finish(); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("Finish after failure: %v, want the sticky error", err)
	}
}

func TestBuilderFull(t *testing.T) {
	b := NewBuilder()
	b.t.limit = 1000 // stands in for format.MaxPackSize, which would need 1 GiB
	env := make([]byte, 100)
	var err error
	for i := 0; err == nil; i++ {
		err = b.Add(format.ID{byte(i), byte(i >> 8)}, env)
		if b.Len() > b.t.limit {
			t.Fatalf("Len %d exceeds MaxPackSize", b.Len())
		}
	}
	if !errors.Is(err, ErrFull) {
		t.Fatalf("got %v, want ErrFull", err)
	}
}

func TestReset(t *testing.T) {
	rs := records("reset", 100, 50)
	b := NewBuilder()
	b.Grow(1000)
	b.Add(rs[0].id, rs[0].env)
	b.Reset()
	if b.Count() != 0 || b.Len() != Overhead || b.Has(rs[0].id) {
		t.Fatalf("Reset left state: count %d len %d", b.Count(), b.Len())
	}
	for _, r := range rs {
		b.Add(r.id, r.env)
	}
	got, gotID, _, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	want, wantID, _ := build(t, rs)
	if !bytes.Equal(got, want) || gotID != wantID {
		t.Fatal("a reused Builder built different bytes")
	}
}

func TestWriterError(t *testing.T) {
	rs := records("writer error", 10)
	w := NewWriter(failWriter{})
	if err := w.Add(rs[0].id, rs[0].env); err == nil {
		t.Fatal("write error not reported")
	}
	if _, _, err := w.Finish(); err == nil {
		t.Fatal("write error not sticky")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// mustCorrupt fails the test unless err is a corruption error.
func mustCorrupt(t *testing.T, what string, err error) {
	t.Helper()
	if !format.IsCorrupt(err) {
		t.Fatalf("%s: got %v, want a corruption error", what, err)
	}
}

func TestTruncated(t *testing.T) {
	data, _, _ := build(t, records("truncate", 200, 37, 513))
	for n := 0; n < len(data); n++ {
		_, err := Parse(data[:n])
		mustCorrupt(t, "prefix", err)
		_, err = Parse(data[len(data)-n:])
		mustCorrupt(t, "suffix", err)
	}
	for n := 0; n < FooterSize; n++ {
		_, err := DecodeFooter(data[len(data)-n:])
		mustCorrupt(t, "footer", err)
	}
	_, err := Parse(append(bytes.Clone(data), 0))
	mustCorrupt(t, "trailing byte", err)
}

func TestBitFlips(t *testing.T) {
	data, _, _ := build(t, records("flip", 20, 37, 5))
	for i := range len(data) * 8 {
		d := bytes.Clone(data)
		d[i/8] ^= 1 << (i % 8)
		_, err := Parse(d)
		mustCorrupt(t, "flip", err)
	}
}

func TestVersion(t *testing.T) {
	data, _, _ := build(t, records("version", 20))
	for _, off := range []int{4, len(data) - 5} {
		d := bytes.Clone(data)
		d[off] = 2
		_, err := Parse(d)
		if !errors.Is(err, format.ErrVersion) || !format.IsCorrupt(err) {
			t.Fatalf("version byte at %d: got %v", off, err)
		}
	}
}

func TestVerifyRecord(t *testing.T) {
	rs := records("verify", 64)
	_, _, entries := build(t, rs)
	mustCorrupt(t, "short", VerifyRecord(entries[0], rs[0].env[:63]))
	d := bytes.Clone(rs[0].env)
	d[10] ^= 4
	mustCorrupt(t, "flipped", VerifyRecord(entries[0], d))
}

// craft returns a trailer and footer for arbitrary entries (consistent hash
// and length), so that only the entries themselves are wrong.
func craft(entries []Entry, trailerOff uint64) ([]byte, Footer, int64) {
	tr := AppendTrailer(nil, entries)
	f := footerFor(trailerOff, len(entries), tr)
	return tr, f, f.PackLen()
}

func TestBadTrailers(t *testing.T) {
	id := func(b byte) format.ID { return format.ID{b} }
	e := func(b byte, off uint64, n uint32) Entry { return Entry{ID: id(b), Offset: off, Length: n} }
	cases := []struct {
		name    string
		entries []Entry
		toff    uint64
	}{
		{"overlap", []Entry{e(1, 8, 10), e(2, 12, 10)}, 22},
		{"gap", []Entry{e(1, 8, 10), e(2, 20, 10)}, 30},
		{"out of order", []Entry{e(2, 18, 10), e(1, 8, 10)}, 28},
		{"not from header", []Entry{e(1, 9, 10)}, 19},
		{"inside header", []Entry{e(1, 0, 18)}, 18},
		{"past trailer", []Entry{e(1, 8, 10), e(2, 18, 10)}, 20},
		{"short of trailer", []Entry{e(1, 8, 10)}, 20},
		{"empty record", []Entry{e(1, 8, 0), e(2, 8, 10)}, 18},
		{"oversize record", []Entry{e(1, 8, format.MaxEnvelopeSize+1)}, 8 + format.MaxEnvelopeSize + 1},
		{"duplicate ID", []Entry{e(1, 8, 10), e(1, 18, 10)}, 28},
		{"offset wraps", []Entry{e(1, 8, 10), e(2, 1<<64-4, 10)}, 28},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr, f, packLen := craft(c.entries, c.toff)
			_, err := DecodeTrailer(tr, f, packLen)
			mustCorrupt(t, c.name, err)
		})
	}
	// The control case decodes, so the failures above are about the entries.
	tr, f, packLen := craft([]Entry{e(1, 8, 10), e(2, 18, 10)}, 28)
	if _, err := DecodeTrailer(tr, f, packLen); err != nil {
		t.Fatal(err)
	}
	_, err := DecodeTrailer(tr, f, packLen+1)
	mustCorrupt(t, "wrong pack length", err)
	_, err = DecodeTrailer(tr[:len(tr)-1], f, packLen)
	mustCorrupt(t, "short trailer", err)
}

func TestBadFooters(t *testing.T) {
	good := Footer{TrailerOffset: 18, Count: 1}
	cases := []struct {
		name string
		f    Footer
	}{
		{"no entries", Footer{TrailerOffset: 8, Count: 0}},
		{"trailer in header", Footer{TrailerOffset: 7, Count: 1}},
		{"records too small", Footer{TrailerOffset: 10, Count: 3}},
		{"too long", Footer{TrailerOffset: format.MaxPackSize, Count: 1}},
		{"huge offset", Footer{TrailerOffset: 1<<64 - 1, Count: 1}},
		{"too many entries", Footer{TrailerOffset: 1 << 29, Count: 1<<32 - 1}},
	}
	if _, err := DecodeFooter(AppendFooter(nil, good)); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		_, err := DecodeFooter(AppendFooter(nil, c.f))
		mustCorrupt(t, c.name, err)
	}
	b := AppendFooter(nil, good)
	b[len(b)-1] = 'X'
	_, err := DecodeFooter(b)
	mustCorrupt(t, "magic", err)
}

func TestCheckHeader(t *testing.T) {
	if err := CheckHeader(AppendHeader(nil)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range [][]byte{nil, []byte("HFPK\x01\x00\x00"), []byte("HFPK\x01\x00\x00\x01"), []byte("HFPF\x01\x00\x00\x00"), []byte("HFPK\x01\x00\x00\x00\x00")} {
		mustCorrupt(t, "header", CheckHeader(bad))
	}
}

// AddSum with the envelope's hash must build the very pack Add builds: the
// record checksum is the prefix of that hash, not a different one.
func TestAddSumMatchesAdd(t *testing.T) {
	rs := records("add sum", 100, 7, 4096)
	want, wantID, _ := build(t, rs)
	b := NewBuilder()
	for _, r := range rs {
		if err := b.AddSum(r.id, r.env, blake3.Sum256(r.env)); err != nil {
			t.Fatal(err)
		}
	}
	got, id, _, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) || id != wantID {
		t.Fatal("AddSum built a different pack than Add")
	}
	if _, err := Parse(got); err != nil {
		t.Fatal(err)
	}
	// A wrong sum is caught by the record check on read.
	b.Reset()
	bad := blake3.Sum256([]byte("something else"))
	if err := b.AddSum(rs[0].id, rs[0].env, bad); err != nil {
		t.Fatal(err)
	}
	data, _, entries, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	mustCorrupt(t, "record with a wrong sum", VerifyRecord(entries[0], data[entries[0].Offset:entries[0].End()]))
}
