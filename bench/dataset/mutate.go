package dataset

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
)

// Mutation says what Mutate changed.
type Mutation struct {
	Files   int   // files written into
	Regions int   // regions overwritten
	Bytes   int64 // bytes overwritten
	Total   int64 // bytes of the data set
}

// Mutation model: a tenth of the changed bytes rewrite whole small files
// (an edit in a source tree), the rest overwrite regions of up to
// mutateRegion bytes in large files (a database or log rewriting
// extents). Content-defined chunking re-uploads about one chunk (≈ 1 MiB)
// beyond every changed region, so this model expects uploads of 1–1.5× the
// changed bytes; scattering the same bytes in 4 KiB writes would cost a
// chunk per write instead.
const (
	mutateRegion    = 4 << 20
	mutateSmallPct  = 10
	mutateLargeFile = 16 << 20
	mutateAlign     = 4 << 10
)

// Mutate overwrites about fraction (0 < fraction ≤ 1) of the bytes of the
// regular files below dir in place, with new random bytes: sizes stay, the
// mtimes move. The same directory content, fraction and seed change the
// same bytes in the same way.
func Mutate(dir string, fraction float64, seed uint64) (Mutation, error) {
	if !(fraction > 0 && fraction <= 1) {
		return Mutation{}, fmt.Errorf("dataset: mutate: fraction %v is not in (0, 1]", fraction)
	}
	files, total, err := listFiles(dir)
	if err != nil {
		return Mutation{}, err
	}
	mu := Mutation{Total: total}
	target := int64(float64(total) * fraction)
	rng := rand.New(rand.NewPCG(seed, 0x3a7e))
	var small, large []sizedFile
	for _, f := range files {
		switch {
		case f.size >= mutateLargeFile:
			large = append(large, f)
		case f.size > 0:
			small = append(small, f)
		}
	}
	if len(large) == 0 {
		large = small // a tiny data set: regions anywhere
	}
	touched := map[string]bool{}
	smallBudget := target * mutateSmallPct / 100
	for tries := 0; mu.Bytes < smallBudget && tries < 100*len(small)+1 && len(small) > 0; tries++ {
		f := small[rng.IntN(len(small))]
		if touched[f.path] {
			continue
		}
		if err := overwrite(f.path, 0, f.size, rng); err != nil {
			return mu, err
		}
		touched[f.path] = true
		mu.Files++
		mu.Regions++
		mu.Bytes += f.size
	}
	regions := map[string][][2]int64{}
	for tries := 0; mu.Bytes < target && tries < 10000 && len(large) > 0; tries++ {
		f := pickWeighted(large, rng)
		n := min(mutateRegion, target-mu.Bytes, f.size)
		off := rng.Int64N(f.size-n+1) / mutateAlign * mutateAlign
		if overlaps(regions[f.path], off, off+n) {
			continue
		}
		if err := overwrite(f.path, off, n, rng); err != nil {
			return mu, err
		}
		regions[f.path] = append(regions[f.path], [2]int64{off, off + n})
		if !touched[f.path] {
			touched[f.path] = true
			mu.Files++
		}
		mu.Regions++
		mu.Bytes += n
	}
	return mu, nil
}

type sizedFile struct {
	path string
	size int64
}

// listFiles returns the regular files below dir in path order.
func listFiles(dir string) ([]sizedFile, int64, error) {
	var files []sizedFile
	var total int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		files = append(files, sizedFile{path: p, size: info.Size()})
		total += info.Size()
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("dataset: mutate: %w", err)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })
	return files, total, nil
}

// pickWeighted picks a file with probability proportional to its size.
func pickWeighted(files []sizedFile, rng *rand.Rand) sizedFile {
	var sum int64
	for _, f := range files {
		sum += f.size
	}
	x := rng.Int64N(sum)
	for _, f := range files {
		if x < f.size {
			return f
		}
		x -= f.size
	}
	return files[len(files)-1]
}

func overlaps(rs [][2]int64, start, end int64) bool {
	for _, r := range rs {
		if start < r[1] && r[0] < end {
			return true
		}
	}
	return false
}

// overwrite writes n random bytes at off into the file, in place.
func overwrite(path string, off, n int64, rng *rand.Rand) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("dataset: mutate: %w", err)
	}
	var key [32]byte
	for i := range 4 {
		v := rng.Uint64()
		for b := range 8 {
			key[i*8+b] = byte(v >> (8 * b))
		}
	}
	src := rand.NewChaCha8(key)
	buf := make([]byte, min(n, writeBlock))
	for done := int64(0); done < n; {
		k := min(int64(len(buf)), n-done)
		src.Read(buf[:k])
		if _, err := f.WriteAt(buf[:k], off+done); err != nil {
			f.Close()
			return fmt.Errorf("dataset: mutate: %w", err)
		}
		done += k
	}
	return f.Close()
}
