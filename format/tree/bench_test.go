package tree

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"
)

// benchEntries returns n typical file entries of one to three chunks each.
func benchEntries(n int) []Entry {
	ids := xof("bench ids", 64*32)
	entries := make([]Entry, n)
	for i := range entries {
		e := &entries[i]
		e.Name = fmt.Sprintf("file-%07d.dat", i)
		e.Type = File
		e.Mode = 0o644
		e.UID, e.GID, e.User, e.Group = 1000, 1000, "app", "app"
		e.MTime, e.ATime, e.CTime = 1_700_000_000_000_000_000+int64(i), 1_700_000_000_000_000_000, 1_700_000_000_000_000_000
		e.Inode, e.Device, e.Links = uint64(1000+i), 2049, 1
		for k := range 1 + i%3 {
			var x Extent
			copy(x.ID[:], ids[(i+k)%64*32:])
			x.Length = 1 << 20
			e.Content = append(e.Content, x)
			e.Size += x.Length
		}
	}
	return entries
}

func encodeAll(b *testing.B, w io.Writer, entries []Entry) {
	enc := NewEncoder(w)
	for i := range entries {
		if err := enc.Add(&entries[i]); err != nil {
			b.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		b.Fatal(err)
	}
}

func decodeAll(b *testing.B, r io.Reader, want int) {
	d := NewDecoder(r)
	n := 0
	for {
		_, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		n++
	}
	if n != want {
		b.Fatalf("decoded %d entries, want %d", n, want)
	}
}

func reportRate(b *testing.B, start time.Time, perOp int) {
	b.ReportMetric(float64(perOp)*float64(b.N)/time.Since(start).Seconds(), "entries/s")
}

// BenchmarkEncodeDecode100k encodes 100,000 entries and streams them back.
func BenchmarkEncodeDecode100k(b *testing.B) {
	const n = 100_000
	entries := benchEntries(n)
	var buf bytes.Buffer
	encodeAll(b, &buf, entries)
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		buf.Reset()
		encodeAll(b, &buf, entries)
		decodeAll(b, bytes.NewReader(buf.Bytes()), n)
	}
	reportRate(b, start, n)
}

func BenchmarkEncode100k(b *testing.B) {
	const n = 100_000
	entries := benchEntries(n)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		encodeAll(b, io.Discard, entries)
	}
	reportRate(b, start, n)
}

func BenchmarkDecode100k(b *testing.B) {
	const n = 100_000
	entries := benchEntries(n)
	var buf bytes.Buffer
	encodeAll(b, &buf, entries)
	b.SetBytes(int64(buf.Len()))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		decodeAll(b, bytes.NewReader(buf.Bytes()), n)
	}
	reportRate(b, start, n)
}
