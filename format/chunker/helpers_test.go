package chunker

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/zeebo/blake3"
)

// smallParams are the 4 KiB / 8 KiB / 64 KiB parameters used by the dedup
// and golden tests and the small-parameter benchmark.
var smallParams = Params{Min: 4 << 10, Avg: 8 << 10, Max: 64 << 10}

// xof returns n deterministic pseudo-random bytes: the BLAKE3 XOF of label.
func xof(label string, n int) []byte {
	h := blake3.New()
	_, _ = h.WriteString(label)
	out := make([]byte, n)
	_, _ = h.Digest().Read(out)
	return out
}

// chunkAll runs a fresh Chunker over r and returns copies of all chunks.
func chunkAll(t testing.TB, r io.Reader, p Params, g *Gear) [][]byte {
	t.Helper()
	c, err := New(r, p, g)
	if err != nil {
		t.Fatal(err)
	}
	return drain(t, c)
}

// drain returns copies of all remaining chunks of c.
func drain(t testing.TB, c *Chunker) [][]byte {
	t.Helper()
	var chunks [][]byte
	for {
		b, err := c.Next()
		if errors.Is(err, io.EOF) {
			return chunks
		}
		if err != nil {
			t.Fatal(err)
		}
		chunks = append(chunks, bytes.Clone(b))
	}
}

// ends converts chunk contents to cumulative end offsets, like Boundaries.
func ends(chunks [][]byte) []int {
	var e []int
	off := 0
	for _, c := range chunks {
		off += len(c)
		e = append(e, off)
	}
	return e
}
