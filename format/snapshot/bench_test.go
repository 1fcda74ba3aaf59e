package snapshot

import (
	"bytes"
	"io"
	"testing"
	"time"
)

// BenchmarkRefsDecode1M decodes a list of 1,000,000 IDs held in memory.
func BenchmarkRefsDecode1M(b *testing.B) {
	const n = 1_000_000
	enc, _ := EncodeRefs(manyRefs(n))
	b.SetBytes(int64(len(enc)))
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		ids, err := DecodeRefs(enc)
		if err != nil || len(ids) != n {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/time.Since(start).Seconds(), "IDs/s")
}

// BenchmarkRefReader1M streams the same list through RefReader.
func BenchmarkRefReader1M(b *testing.B) {
	const n = 1_000_000
	enc, _ := EncodeRefs(manyRefs(n))
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		rr := NewRefReader(bytes.NewReader(enc))
		k := 0
		for {
			_, err := rr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			k++
		}
		if k != n {
			b.Fatal(k)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/time.Since(start).Seconds(), "IDs/s")
}
