package chunker

import (
	"bytes"
	"io"
	"sync"
	"testing"

	"github.com/zeebo/blake3"
)

// benchData is 64 MiB of pseudo-random input shared by all benchmarks, so
// the chunker and BLAKE3 figures can be compared directly.
var benchData = sync.OnceValue(func() []byte { return xof("holdfast chunker benchmark", 64<<20) })

// BenchmarkChunker measures one core chunking random data, reusing one
// Chunker through Reset as a client does across files.
func BenchmarkChunker(b *testing.B) {
	for _, bc := range []struct {
		name string
		p    Params
	}{
		{"default", DefaultParams},
		{"small", smallParams},
	} {
		b.Run(bc.name, func(b *testing.B) {
			data := benchData()
			r := bytes.NewReader(data)
			c, err := New(r, bc.p, DefaultGear)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				r.Reset(data)
				c.Reset(r)
				chunks := 0
				for {
					_, err := c.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					chunks++
				}
				b.ReportMetric(float64(len(data))/float64(chunks), "B/chunk")
			}
		})
	}
}

// BenchmarkBlake3Sum256 is the yardstick: the chunker should not be the
// slowest stage of the client pipeline, which also hashes every byte.
func BenchmarkBlake3Sum256(b *testing.B) {
	data := benchData()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for b.Loop() {
		_ = blake3.Sum256(data)
	}
}
