package dataset

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/zeebo/blake3"
)

// corpusSize is the size of the text every text file and the text half of
// the half-compressible files are cut from. Files take slices at random
// offsets, so no two files are equal, while the text compresses like
// source code (zstd: about a third).
const corpusSize = 16 << 20

// halfBlock is the period of a half-compressible file: random bytes, then
// as many of text.
const halfBlock = 32 << 10

// writeBlock is how much content is produced and written at a time.
const writeBlock = 4 << 20

var words = []string{
	"func", "return", "if", "err", "nil", "for", "range", "var", "const", "type",
	"struct", "interface", "package", "import", "ctx", "context", "buf", "len",
	"int64", "string", "byte", "error", "fmt.Errorf", "make", "append", "defer",
	"Close", "Read", "Write", "offset", "length", "chunk", "pack", "index",
	"snapshot", "client", "server", "config", "value", "key", "map", "slice",
	"i", "j", "n", "x", "0", "1", "2", "16", "1024", "true", "false", "else",
	"switch", "case", "default", "go", "select", "chan", "mutex", "Lock",
}

var punct = []string{" ", " ", " ", " ", ", ", "(", ")", " := ", " = ", ".", " {", "}", " == ", " != ", "[", "]"}

// gen produces the content of a data set's files.
type gen struct {
	seed   uint64
	corpus []byte
}

func newGen(seed uint64) *gen {
	rng := rand.New(rand.NewPCG(seed, 0xc0de))
	c := make([]byte, 0, corpusSize+256)
	for len(c) < corpusSize {
		c = append(c, "\t\t\t\t"[:rng.IntN(4)]...)
		for n := 2 + rng.IntN(10); n > 0; n-- {
			c = append(c, words[rng.IntN(len(words))]...)
			c = append(c, punct[rng.IntN(len(punct))]...)
		}
		c = append(c, '\n')
	}
	return &gen{seed: seed, corpus: c[:corpusSize]}
}

// stream returns the random source of file i's content.
func (g *gen) stream(i int) *rand.ChaCha8 {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[0:], g.seed)
	binary.LittleEndian.PutUint64(key[8:], uint64(i))
	copy(key[16:], "holdfast-dataset")
	return rand.NewChaCha8(key)
}

// text appends n bytes of corpus text from a pseudo-random offset.
func (g *gen) text(dst []byte, rnd *rand.ChaCha8, n int) []byte {
	for n > 0 {
		off := int(rnd.Uint64() % uint64(corpusSize))
		k := min(n, corpusSize-off)
		dst = append(dst, g.corpus[off:off+k]...)
		n -= k
	}
	return dst
}

// write writes file i of specs under dir, sets its mtime and returns its
// manifest entry. buf is the caller's reusable block buffer.
func (g *gen) write(dir string, specs []spec, i int, buf *[]byte) (File, error) {
	s := specs[i]
	src := i
	if s.kind == KindDup {
		src = s.src
	}
	name := filepath.Join(dir, filepath.FromSlash(s.path))
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return File{}, fmt.Errorf("dataset: %w", err)
	}
	h := blake3.New()
	err = g.content(specs[src], src, buf, func(b []byte) error {
		h.Write(b)
		_, err := f.Write(b)
		return err
	})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		mt := baseTime.Add(time.Duration(i) * time.Second)
		err = os.Chtimes(name, mt, mt)
	}
	if err != nil {
		return File{}, fmt.Errorf("dataset: %w", err)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return File{Path: s.path, Size: s.size, Kind: s.kind, Hash: sum}, nil
}

// content produces the bytes of file i (spec s) in blocks, passing each to
// emit.
func (g *gen) content(s spec, i int, buf *[]byte, emit func([]byte) error) error {
	rnd := g.stream(i)
	if s.kind == KindText {
		b := fmt.Appendf((*buf)[:0], "%s %s (generated, seed %d)\n", commentOf(s.ext), s.path, g.seed)
		b = g.text(b, rnd, int(max(s.size-int64(len(b)), 0)))
		*buf = b
		return emit(b[:s.size])
	}
	if cap(*buf) < writeBlock {
		*buf = make([]byte, 0, writeBlock)
	}
	for left := s.size; left > 0; {
		n := int(min(left, writeBlock))
		b := (*buf)[:0]
		switch s.kind {
		case KindHalf:
			for len(b) < n {
				k := min(halfBlock, n-len(b))
				b = b[:len(b)+k]
				rnd.Read(b[len(b)-k:])
				b = g.text(b, rnd, min(halfBlock, n-len(b)))
			}
		default:
			b = b[:n]
			rnd.Read(b)
		}
		if err := emit(b); err != nil {
			return err
		}
		left -= int64(n)
	}
	return nil
}

func commentOf(ext int) string {
	switch textExts[ext] {
	case ".py":
		return "#"
	case ".md", ".txt":
		return ">"
	default:
		return "//"
	}
}
