package seal

import (
	"strings"
	"testing"

	"github.com/zeebo/blake3"
)

const benchSize = 1 << 20

// halfCompressible alternates 4 KiB of random bytes and 4 KiB of text, so
// zstd saves about half.
func halfCompressible(n int) []byte {
	rnd := xof("bench random", n)
	text := repeatedText(n)
	b := make([]byte, n)
	for off := 0; off < n; off += 4096 {
		src := rnd
		if off/4096%2 == 1 {
			src = text
		}
		copy(b[off:], src[off:min(off+4096, n)])
	}
	return b
}

func benchSeal(b *testing.B, p []byte) { benchSealBy(b, testSealer(), p) }

func benchSealBy(b *testing.B, s *Sealer, p []byte) {
	nonce := make([]byte, NonceSize)
	buf := make([]byte, 0, Overhead+2*len(p))
	b.SetBytes(int64(len(p)))
	var size int
	for b.Loop() {
		env, err := s.Seal(buf[:0], TypeData, s.ID(p), p, nonce)
		if err != nil {
			b.Fatal(err)
		}
		size = len(env)
	}
	b.ReportMetric(float64(size)/float64(len(p)), "ratio")
}

// BenchmarkSeal is the whole client-side cost of a new incompressible
// chunk: keyed ID, compression check, AEAD.
func BenchmarkSeal(b *testing.B) { benchSeal(b, xof("bench random", benchSize)) }

// BenchmarkSealCompressible is the same on data zstd halves.
func BenchmarkSealCompressible(b *testing.B) { benchSeal(b, halfCompressible(benchSize)) }

func benchOpen(b *testing.B, p []byte) { benchOpenBy(b, testSealer(), p) }

func benchOpenBy(b *testing.B, s *Sealer, p []byte) {
	id := s.ID(p)
	env, err := s.Seal(nil, TypeData, id, p, nil)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, len(p))
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		if _, _, err := s.Open(buf[:0], id, env); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpen opens an incompressible chunk: AEAD and ID check.
func BenchmarkOpen(b *testing.B) { benchOpen(b, xof("bench random", benchSize)) }

// BenchmarkOpenCompressible adds zstd decompression.
func BenchmarkOpenCompressible(b *testing.B) { benchOpen(b, halfCompressible(benchSize)) }

// BenchmarkBlake3Sum256 is the floor: plain BLAKE3 over the same buffer.
func BenchmarkBlake3Sum256(b *testing.B) {
	p := xof("bench random", benchSize)
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		blake3.Sum256(p)
	}
}

// sourceText is n bytes of pseudo source code: words and punctuation drawn
// at random, which zstd compresses to about a third, like the benchmark
// data set's source tree (bench/dataset).
func sourceText(n int) []byte {
	words := strings.Fields("func return if err nil for range var const type struct package import ctx buf len int64 string byte error make append defer Close Read Write offset chunk pack index snapshot client server i j n x 0 1 16 1024 true false else switch case go select chan")
	punct := []string{" ", " ", ", ", "(", ")", " := ", " = ", ".", " {", "}", " == ", "[", "]"}
	rnd := xof("bench text", 4*n+64)
	b := make([]byte, 0, n+64)
	for i := 0; len(b) < n; i += 2 {
		b = append(b, words[int(rnd[i])%len(words)]...)
		b = append(b, punct[int(rnd[i+1])%len(punct)]...)
		if rnd[i]%11 == 0 {
			b = append(b, '\n')
		}
	}
	return b[:n]
}

// BenchmarkOpenText opens a chunk of source-like text (a large file).
func BenchmarkOpenText(b *testing.B) { benchOpen(b, sourceText(benchSize)) }

// BenchmarkOpenTextSmall opens a small source file's chunk: most of a
// source tree's chunks are whole small files.
func BenchmarkOpenTextSmall(b *testing.B) { benchOpen(b, sourceText(6<<10)) }

// BenchmarkWriters seals and opens the same data with each writer: source
// text (a third after zstd) and half-compressible data, 1 MiB chunks.
func BenchmarkWriters(b *testing.B) {
	data := []struct {
		name string
		p    []byte
	}{{"text", sourceText(benchSize)}, {"half", halfCompressible(benchSize)}}
	for _, c := range []Compression{Zstd, S2} {
		w := testWriter(b, c)
		for _, d := range data {
			b.Run("seal/"+c.String()+"/"+d.name, func(b *testing.B) { benchSealBy(b, w, d.p) })
			b.Run("open/"+c.String()+"/"+d.name, func(b *testing.B) { benchOpenBy(b, w, d.p) })
		}
	}
}
