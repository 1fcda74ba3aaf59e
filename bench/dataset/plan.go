package dataset

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path"
)

// spec is one file to write: its path, size and kind, and where its bytes
// come from (its own stream, or a copy of file src).
type spec struct {
	path string
	size int64
	kind Kind
	src  int // index of the copied file for KindDup, else -1
	ext  int // text: which comment style the header line uses
}

// Shares of the data set, in percent of Size (see doc.go). Duplicates of
// small files come out of the text count; the big duplicates take what is
// left of dupPct.
const (
	dupPct       = 10
	halfPct      = 36
	smallDupPct  = 5 // of the small files, in number
	halfFileSize = 192 << 20
	bigFileSize  = 160 << 20
	mediaShare   = 40 // percent of the incompressible bytes in media files
	minTextSize  = 64
	maxTextSize  = 64 << 10
)

var textExts = []string{".go", ".c", ".h", ".py", ".js", ".md", ".txt", ".rs"}

// plan lays out the data set: names, sizes and kinds, from cfg alone.
func plan(cfg Config) []spec {
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x5eed))
	var specs []spec
	add := func(s spec) int { specs = append(specs, s); return len(specs) - 1 }
	var text, dups int64
	var textIdx []int
	for i := range cfg.SmallFiles {
		mod, pkg := i/400, i/25
		ext := rng.IntN(len(textExts))
		p := fmt.Sprintf("src/mod%03d/pkg%04d/file%05d%s", mod, pkg, i, textExts[ext])
		if len(textIdx) > 0 && rng.IntN(100) < smallDupPct {
			src := textIdx[rng.IntN(len(textIdx))]
			s := specs[src]
			add(spec{path: fmt.Sprintf("vendor/mod%03d/v%05d_%s", mod, i, path.Base(s.path)), size: s.size, kind: KindDup, src: src})
			dups += s.size
			continue
		}
		// Log-uniform between minTextSize and maxTextSize: many tiny files,
		// a few tens of KiB, mean about 9.4 KiB.
		size := int64(math.Exp(math.Log(minTextSize) + rng.Float64()*math.Log(maxTextSize/minTextSize)))
		textIdx = append(textIdx, add(spec{path: p, size: size, kind: KindText, src: -1, ext: ext}))
		text += size
	}
	rest := cfg.Size - text - dups
	bigDup := max(cfg.Size*dupPct/100-dups, 0)
	half := max(rest-bigDup, 0) * halfPct / (100 - dupPct)
	random := max(rest-bigDup-half, 0)
	media := random * mediaShare / 100

	halfFirst := len(specs)
	for i, sz := range split(half, halfFileSize) {
		add(spec{path: fmt.Sprintf("data/half/h%02d.bin", i), size: sz, kind: KindHalf, src: -1})
	}
	mediaMax := max(min(8<<20, media/4), 1)
	var mediaFirst = len(specs)
	for i, left := 0, media; left > 0; i++ {
		sz := min(left, 1<<20+rng.Int64N(max(mediaMax-1<<20, 1)))
		add(spec{path: fmt.Sprintf("media/album%02d/img%04d.jpg", i/32, i), size: sz, kind: KindMedia, src: -1})
		left -= sz
	}
	mediaEnd := len(specs)
	// Big duplicates: the first half-compressible file, then media files,
	// while they fit the budget.
	if halfFirst < mediaFirst && specs[halfFirst].size <= bigDup {
		s := specs[halfFirst]
		add(spec{path: "backup/old/h00.bin", size: s.size, kind: KindDup, src: halfFirst})
		bigDup -= s.size
	}
	for i := mediaFirst; i < mediaEnd && bigDup > 0; i++ {
		s := specs[i]
		if s.size > bigDup {
			continue
		}
		add(spec{path: "backup/" + s.path, size: s.size, kind: KindDup, src: i})
		bigDup -= s.size
	}
	// The large incompressible files absorb every rounding, so the set
	// has exactly cfg.Size bytes (unless the small files alone exceed it).
	var used int64
	for _, s := range specs {
		used += s.size
	}
	for i, sz := range split(max(cfg.Size-used, 0), bigFileSize) {
		add(spec{path: fmt.Sprintf("data/random/r%02d.bin", i), size: sz, kind: KindRandom, src: -1})
	}
	return specs
}

// split cuts total into about total/target parts of equal size (the last
// takes the remainder); none for a total of 0.
func split(total, target int64) []int64 {
	if total <= 0 {
		return nil
	}
	n := max((total+target/2)/target, 1)
	parts := make([]int64, n)
	for i := range parts {
		parts[i] = total / n
	}
	parts[n-1] += total % n
	return parts
}
