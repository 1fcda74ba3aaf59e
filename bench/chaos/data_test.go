package chaos

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/zeebo/blake3"
)

// source is the directory the scenarios back up. Its content is
// pseudo-random (incompressible, so uploads are real) and changes a little
// every round, like a live volume.
type source struct {
	t     *testing.T
	dir   string
	files int   // regular files under data/
	size  int64 // bytes per file, varied ±50%
	gen   int   // generation, mixed into the content
}

// newSource creates the tree: data/ with files of varied sizes, a few
// small files, a symlink and an empty directory.
func newSource(t *testing.T, files int, size int64) *source {
	s := &source{t: t, dir: filepath.Join(t.TempDir(), "src"), files: files, size: size}
	for _, d := range []string{"data", "small", "empty"} {
		if err := os.MkdirAll(filepath.Join(s.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for i := range files {
		s.write(fmt.Sprintf("data/f%03d.bin", i), s.size/2+int64(i)*s.size/int64(files))
	}
	for i := range 8 {
		s.write(fmt.Sprintf("small/s%d.txt", i), int64(100*i))
	}
	if err := os.Symlink("data/f000.bin", filepath.Join(s.dir, "link")); err != nil {
		t.Fatal(err)
	}
	return s
}

// mutate changes the tree for the next snapshot: a few files rewritten and
// one new file, so every snapshot has new data and shares most of it.
func (s *source) mutate() {
	s.gen++
	for j := range 3 {
		i := (s.gen*7 + j*11) % s.files
		s.write(fmt.Sprintf("data/f%03d.bin", i), s.size/2+int64(i)*s.size/int64(s.files))
	}
	s.write(fmt.Sprintf("data/new%04d.bin", s.gen), s.size/4)
}

// write replaces name with n pseudo-random bytes of this generation.
func (s *source) write(name string, n int64) {
	h := blake3.New()
	h.WriteString(name)
	binary.Write(h, binary.BigEndian, uint64(s.gen))
	p := filepath.Join(s.dir, name)
	f, err := os.Create(p)
	if err == nil {
		_, err = io.CopyN(f, h.Digest(), n)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		s.t.Fatal(err)
	}
}

// manifest describes a tree: relative path -> type, mode, size and
// BLAKE3 of the content (or link target). Two trees with equal manifests
// are bit-exact copies.
type manifest map[string]string

// scan computes the manifest of dir and its total file bytes.
func scan(dir string) (manifest, int64, error) {
	m := manifest{}
	var total int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == "." {
			return nil // the restore target itself is the caller's, not the snapshot's
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			m[rel] = "link " + target
		case d.IsDir():
			m[rel] = fmt.Sprintf("dir %o", fi.Mode().Perm())
		case d.Type().IsRegular():
			sum, err := hashFile(p)
			if err != nil {
				return err
			}
			total += fi.Size()
			m[rel] = fmt.Sprintf("file %o %d %s", fi.Mode().Perm(), fi.Size(), sum)
		default:
			m[rel] = "other " + d.Type().String()
		}
		return nil
	})
	return m, total, err
}

func hashFile(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := blake3.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// diff describes how got differs from want (at most a few paths), or "".
func (want manifest) diff(got manifest) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if got[k] != want[k] {
			out = append(out, fmt.Sprintf("%s: got %q, want %q", k, got[k], want[k]))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got)) {
		if _, ok := want[k]; !ok {
			out = append(out, fmt.Sprintf("%s: unexpected %q", k, got[k]))
		}
	}
	if len(out) > 5 {
		out = append(out[:5], fmt.Sprintf("and %d more", len(out)-5))
	}
	return strings.Join(out, "; ")
}
