package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/holdfast-backup/holdfast/bench/dataset"
	"github.com/holdfast-backup/holdfast/repo"
)

// copyBuffer is the plain copy's buffer: large enough that system calls
// do not dominate, like cp's.
const copyBuffer = 1 << 20

// Baselines are the machine's own limits on the data set's bytes,
// measured in the same run as the phases.
type Baselines struct {
	Blake3MBps float64 `json:"blake3_mb_per_s"` // blake3.Sum256, one goroutine, bytes in memory
	CopyMBps   float64 `json:"copy_mb_per_s"`   // read + write every file, one goroutine, no fsync
	CopyS      float64 `json:"copy_s"`
}

// scan reads the data set once: its manifest, and the BLAKE3 baseline.
func (e *env) scan() (Baselines, error) {
	m, err := dataset.Scan(e.src)
	if err != nil {
		return Baselines{}, err
	}
	e.manifest = m
	b := Baselines{Blake3MBps: m.HashMBps()}
	e.logf("data set: %d files, %d bytes; blake3.Sum256 %.0f MB/s", len(m.Files), m.Bytes, b.Blake3MBps)
	return b, nil
}

// copyBaseline times a plain copy of the data set into the run's
// directory. It runs after the phases and the copy stays until the run's
// directory is removed, so its file creations and deletions cannot slow a
// phase (see Run).
func (e *env) copyBaseline(b *Baselines) error {
	start := time.Now()
	if err := copyTree(e.src, filepath.Join(e.dir, "copy")); err != nil {
		return err
	}
	d := time.Since(start)
	b.CopyMBps, b.CopyS = float64(e.manifest.Bytes)/d.Seconds()/1e6, d.Seconds()
	e.logf("plain copy of the data set: %.0f MB/s", b.CopyMBps)
	return nil
}

// Wrappers that hide io.ReaderFrom / io.WriterTo, so io.CopyBuffer reads
// and writes through the buffer instead of copy_file_range or sendfile
// (which may copy inside the kernel or not at all, on a reflinking file
// system): the baseline is what any program moving the bytes must do.
type onlyReader struct{ io.Reader }
type onlyWriter struct{ io.Writer }

// copyTree copies the regular files and directories below src to dst.
func copyTree(src, dst string) error {
	buf := make([]byte, copyBuffer)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		out := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(out, 0o755)
		case !d.Type().IsRegular():
			return nil
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		if _, err := io.CopyBuffer(onlyWriter{f}, onlyReader{in}, buf); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	})
	if err != nil {
		return fmt.Errorf("e2e: copy baseline: %w", err)
	}
	return nil
}

// diskUsage is the space the files below dir take on disk (allocated
// blocks, like du), or 0 if dir does not exist.
func diskUsage(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) && p == dir {
				return fs.SkipDir
			}
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			n += st.Blocks * 512
		} else {
			n += info.Size()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("e2e: disk usage: %w", err)
	}
	return n, nil
}

// repoSize is the disk usage of the server's local stores (as recorded in
// DATA/layout.json) and of its index. S3 stores are not counted.
func repoSize(data string) (stores, index int64, err error) {
	b, err := os.ReadFile(filepath.Join(data, repo.LayoutFile))
	if err != nil {
		return 0, 0, fmt.Errorf("e2e: read layout: %w", err)
	}
	var l repo.Layout
	if err := json.Unmarshal(b, &l); err != nil {
		return 0, 0, fmt.Errorf("e2e: layout: %w", err)
	}
	for _, s := range l.Stores {
		if strings.Contains(s.URL, "://") {
			continue
		}
		dir := s.URL
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(data, dir)
		}
		n, err := diskUsage(dir)
		if err != nil {
			return 0, 0, err
		}
		stores += n
	}
	index, err = diskUsage(filepath.Join(data, "index"))
	return stores, index, err
}

// finish fills in what every phase derives the same way: throughput and
// its fractions of the baselines, and the repository size after it.
func (e *env) finish(p *Phase, b Baselines) {
	if p.Status == StatusOK && p.WallS > 0 {
		p.MBps = float64(p.Bytes) / p.WallS / 1e6
		p.OfBlake3 = p.MBps / b.Blake3MBps
	}
	stores, index, err := repoSize(e.data)
	if err != nil {
		p.Note = joinNote(p.Note, err.Error())
		return
	}
	p.RepoBytes, p.IndexBytes = stores, index
}

// ofCopy sets the phase's ratio to the plain copy, measured after it.
func (p *Phase) ofCopy(b Baselines) {
	if p.Status == StatusOK && p.WallS > 0 && b.CopyMBps > 0 {
		p.OfCopy = p.MBps / b.CopyMBps
	}
}

func joinNote(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}
