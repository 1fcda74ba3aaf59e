package dataset

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/zeebo/blake3"
)

// Scan lists every regular file below dir with its size and BLAKE3-256 and
// times the hashing alone (Manifest.HashTime): each file is read whole into
// memory first, then hashed with blake3.Sum256 on this goroutine. Other
// entries (directories, symlinks) are walked or ignored.
func Scan(dir string) (Manifest, error) {
	var files []File
	var hashTime time.Duration
	var buf []byte
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		if int64(cap(buf)) < st.Size() {
			buf = make([]byte, st.Size())
		}
		b := buf[:st.Size()]
		if _, err := io.ReadFull(f, b); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		start := time.Now()
		sum := blake3.Sum256(b)
		hashTime += time.Since(start)
		files = append(files, File{Path: filepath.ToSlash(rel), Size: st.Size(), Hash: sum})
		return nil
	})
	if err != nil {
		return Manifest{}, fmt.Errorf("dataset: scan: %w", err)
	}
	return newManifest(files, hashTime), nil
}

// Verify checks that dir holds exactly m's regular files, with the same
// content. The error names up to five differences.
func Verify(dir string, m Manifest) error {
	got, err := Scan(dir)
	if err != nil {
		return err
	}
	return m.Diff(got)
}

// Diff compares two manifests by path, size and hash (not kind) and
// returns nil when they list the same files with the same content.
func (m Manifest) Diff(other Manifest) error {
	var diffs []string
	n := 0
	note := func(format string, args ...any) {
		n++
		if len(diffs) < 5 {
			diffs = append(diffs, fmt.Sprintf(format, args...))
		}
	}
	i, j := 0, 0
	for i < len(m.Files) || j < len(other.Files) {
		switch {
		case j == len(other.Files) || (i < len(m.Files) && m.Files[i].Path < other.Files[j].Path):
			note("%s: missing", m.Files[i].Path)
			i++
		case i == len(m.Files) || other.Files[j].Path < m.Files[i].Path:
			note("%s: unexpected", other.Files[j].Path)
			j++
		default:
			a, b := m.Files[i], other.Files[j]
			if a.Size != b.Size || a.Hash != b.Hash {
				note("%s: content differs (%d vs %d bytes)", a.Path, a.Size, b.Size)
			}
			i++
			j++
		}
	}
	if n == 0 {
		return nil
	}
	return errors.New("dataset: " + fmt.Sprint(n) + " files differ: " + strings.Join(diffs, "; "))
}
