package fuzz

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"
	"testing/iotest"

	"github.com/holdfast-backup/holdfast/format/chunker"
)

// fuzzParams maps fuzz integers onto small valid parameters, so that short
// inputs still span several chunks: Avg in 256..2048, Min in [64, Avg],
// Max in [Avg, 4 Avg].
func fuzzParams(minN uint16, avgExp uint8, maxN uint16) chunker.Params {
	avg := 256 << (avgExp % 4)
	return chunker.Params{
		Min: 64 + int(minN)%(avg-63),
		Avg: avg,
		Max: avg + int(maxN)%(3*avg+1),
	}
}

// FuzzChunker checks the chunker's invariants on arbitrary data: chunks
// concatenate to the input, respect Min and Max, and are the same whether
// computed over the whole input (Boundaries, twice) or streamed through a
// Chunker that sees one byte per read.
func FuzzChunker(f *testing.F) {
	f.Add([]byte{}, uint16(0), uint8(0), uint16(0))
	f.Add(bytes.Repeat([]byte{0}, 5000), uint16(100), uint8(1), uint16(700))
	f.Add([]byte("holdfast holdfast holdfast"), uint16(1), uint8(3), uint16(9999))
	f.Fuzz(func(t *testing.T, data []byte, minN uint16, avgExp uint8, maxN uint16) {
		p := fuzzParams(minN, avgExp, maxN)
		if err := p.Validate(); err != nil {
			t.Fatalf("fuzzParams made invalid params %v: %v", p, err)
		}
		ends := chunker.Boundaries(data, p, chunker.DefaultGear)
		if again := chunker.Boundaries(data, p, chunker.DefaultGear); !slices.Equal(ends, again) {
			t.Fatalf("Boundaries not deterministic: %v then %v", ends, again)
		}
		if len(data) == 0 && len(ends) != 0 {
			t.Fatalf("empty input gave chunks %v", ends)
		}
		prev := 0
		for i, e := range ends {
			n := e - prev
			if n <= 0 || n > p.Max || (i < len(ends)-1 && n < p.Min) {
				t.Fatalf("chunk %d of %d has %d bytes, params %v", i, len(ends), n, p)
			}
			prev = e
		}
		if prev != len(data) {
			t.Fatalf("chunks end at %d, input has %d bytes", prev, len(data))
		}

		c, err := chunker.New(iotest.OneByteReader(bytes.NewReader(data)), p, chunker.DefaultGear)
		if err != nil {
			t.Fatal(err)
		}
		var joined []byte
		var streamed []int
		for {
			b, err := c.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			joined = append(joined, b...)
			streamed = append(streamed, len(joined))
		}
		if !bytes.Equal(joined, data) {
			t.Fatal("streamed chunks do not concatenate to the input")
		}
		if !slices.Equal(streamed, ends) {
			t.Fatalf("streamed ends %v, Boundaries %v", streamed, ends)
		}
	})
}
