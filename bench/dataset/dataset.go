package dataset

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// DefaultSize is the size of the issue #5 data set.
const DefaultSize = 2 << 30

// Config chooses a data set. The zero value is the default 2 GiB set.
type Config struct {
	// Size is the total bytes of file content; 0 means DefaultSize.
	Size int64
	// Seed selects the content: the same Seed and Size give the same bytes.
	Seed uint64
	// SmallFiles is how many small text files to write (duplicates of them
	// included); 0 means Size / 40 KiB (52,428 at 2 GiB), at least 16.
	SmallFiles int
	// Workers is how many files are written at once; 0 means 2. It does
	// not change the content.
	Workers int
}

func (c Config) withDefaults() Config {
	if c.Size <= 0 {
		c.Size = DefaultSize
	}
	if c.SmallFiles <= 0 {
		c.SmallFiles = int(max(c.Size/(40<<10), 16))
	}
	if c.Workers <= 0 {
		c.Workers = 2
	}
	return c
}

// Kind says what a file of the data set stands for.
type Kind string

// The kinds of files Generate writes. Scan cannot tell them apart and
// leaves Kind empty.
const (
	KindText   Kind = "text"   // small source-like text file
	KindHalf   Kind = "half"   // large, half compressible
	KindRandom Kind = "random" // large, incompressible
	KindMedia  Kind = "media"  // 1–8 MiB, incompressible
	KindDup    Kind = "dup"    // a copy of another file of the set
)

// File is one regular file of a data set.
type File struct {
	Path string // slash-separated, relative to the root
	Size int64
	Kind Kind
	Hash [32]byte // BLAKE3-256 of the content
}

// Manifest lists a data set's files, sorted by path.
type Manifest struct {
	Files []File
	Bytes int64 // sum of the sizes
	// HashTime is the time blake3.Sum256 took over all the content, on one
	// goroutine, with the bytes already in memory: the baseline benchmarks
	// compare their throughput with. Zero from Generate.
	HashTime time.Duration
}

// HashMBps is the BLAKE3 baseline in MB/s (10^6 bytes), or 0 if not timed.
func (m Manifest) HashMBps() float64 {
	if m.HashTime <= 0 {
		return 0
	}
	return float64(m.Bytes) / m.HashTime.Seconds() / 1e6
}

// ByKind sums the files and bytes of each kind.
func (m Manifest) ByKind() map[Kind][2]int64 {
	out := map[Kind][2]int64{}
	for _, f := range m.Files {
		v := out[f.Kind]
		out[f.Kind] = [2]int64{v[0] + 1, v[1] + f.Size}
	}
	return out
}

// baseTime is the mtime of the first file Generate writes; file i gets
// baseTime + i seconds, so the set's metadata is deterministic too.
var baseTime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Generate writes the data set cfg into dir (created if missing; it should
// be empty) and returns its manifest. The same cfg always writes the same
// names, bytes and mtimes.
func Generate(dir string, cfg Config) (Manifest, error) {
	cfg = cfg.withDefaults()
	specs := plan(cfg)
	g := newGen(cfg.Seed)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Manifest{}, fmt.Errorf("dataset: %w", err)
	}
	if err := makeDirs(dir, specs); err != nil {
		return Manifest{}, err
	}
	files := make([]File, len(specs))
	work := make(chan int)
	errs := make(chan error, cfg.Workers)
	var wg sync.WaitGroup
	for range cfg.Workers {
		wg.Go(func() {
			var buf []byte
			for i := range work {
				f, err := g.write(dir, specs, i, &buf)
				if err != nil {
					errs <- err
					for range work { // drain so the feeder ends
					}
					return
				}
				files[i] = f
			}
		})
	}
	for i := range specs {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return Manifest{}, err
	}
	return newManifest(files, 0), nil
}

func newManifest(files []File, hashTime time.Duration) Manifest {
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	m := Manifest{Files: files, HashTime: hashTime}
	for _, f := range files {
		m.Bytes += f.Size
	}
	return m
}

// makeDirs creates every directory the specs need, once, before the
// writers start.
func makeDirs(dir string, specs []spec) error {
	made := map[string]bool{}
	for _, s := range specs {
		d := filepath.Dir(filepath.Join(dir, filepath.FromSlash(s.path)))
		if made[d] {
			continue
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("dataset: %w", err)
		}
		made[d] = true
	}
	return nil
}
