package client

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format/chunker"
)

// bkBenchData writes the benchmark data set into dir and returns its size:
// about 256 MiB of 6,000 small files (1 to 16 KiB, in 60 directories),
// four 32 MiB files that compress to about half, and two 40 MiB files of
// random bytes.
func bkBenchData(tb testing.TB, dir string) int64 {
	var total int64
	write := func(p string, data []byte) {
		bkWrite(tb, p, data)
		total += int64(len(data))
	}
	small := bkRandom(7, 16<<10*6000)
	for i := range 6000 {
		n := 1<<10 + (i*7919)%(15<<10)
		write(filepath.Join(dir, "small", fmt.Sprintf("d%02d", i%60), fmt.Sprintf("f%04d", i)), small[i*16<<10:i*16<<10+n])
	}
	text := bytes.Repeat([]byte("holdfast keeps half of this block compressible. "), 700)[:32<<10]
	for i := range 4 {
		rnd := bkRandom(uint64(20+i), 16<<20)
		buf := make([]byte, 0, 32<<20)
		for off := 0; off < len(rnd); off += 32 << 10 {
			buf = append(buf, rnd[off:off+32<<10]...)
			buf = append(buf, text...)
		}
		write(filepath.Join(dir, "half", fmt.Sprintf("h%d", i)), buf)
	}
	for i := range 2 {
		write(filepath.Join(dir, "random", fmt.Sprintf("r%d", i)), bkRandom(uint64(30+i), 40<<20))
	}
	return total
}

var bkBenchRepos atomic.Int64

// BenchmarkBackup backs up bkBenchData through a loopback server with the
// default chunker parameters: "full" into a fresh repository each time
// (everything is new), "unchanged" again without changes (reports its
// time as a fraction of the full backup's), and "blake3" hashes the same
// bytes with blake3.Sum256 for comparison.
//
//	go test ./client -run '^$' -bench BenchmarkBackup -benchtime 3x
func BenchmarkBackup(b *testing.B) {
	dir := b.TempDir()
	total := bkBenchData(b, dir)
	srv := newBkServer(b)
	ctx := context.Background()
	newRepo := func(b *testing.B) *Repository {
		return srv.initRepo(b, fmt.Sprintf("bench-%d", bkBenchRepos.Add(1)), chunker.DefaultParams)
	}

	var full time.Duration
	b.Run("full", func(b *testing.B) {
		b.SetBytes(total)
		var spent time.Duration
		for range b.N {
			b.StopTimer()
			r := newRepo(b)
			cache := b.TempDir()
			b.StartTimer()
			start := time.Now()
			sum, err := r.Backup(ctx, BackupOptions{Paths: []string{dir}, Host: "bench", CacheDir: cache})
			if err != nil {
				b.Fatal(err)
			}
			spent += time.Since(start)
			if sum.BytesRead != uint64(total) {
				b.Fatalf("read %d of %d bytes", sum.BytesRead, total)
			}
			b.ReportMetric(float64(sum.BytesUploaded)/float64(total), "uploaded/B")
		}
		full = spent / time.Duration(b.N)
	})

	b.Run("unchanged", func(b *testing.B) {
		r := newRepo(b)
		opts := BackupOptions{Paths: []string{dir}, Host: "bench", CacheDir: b.TempDir()}
		start := time.Now()
		if _, err := r.Backup(ctx, opts); err != nil {
			b.Fatal(err)
		}
		first := time.Since(start)
		if full == 0 {
			full = first
		}
		b.ResetTimer()
		start = time.Now()
		for range b.N {
			sum, err := r.Backup(ctx, opts)
			if err != nil {
				b.Fatal(err)
			}
			if sum.BytesRead != 0 || sum.BytesUploaded != 0 {
				b.Fatalf("unchanged backup read %d, uploaded %d bytes", sum.BytesRead, sum.BytesUploaded)
			}
		}
		per := time.Since(start) / time.Duration(b.N)
		b.ReportMetric(float64(per)/float64(full), "of-full-time")
	})

	b.Run("blake3", func(b *testing.B) {
		var files [][]byte
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				data, err := os.ReadFile(p)
				if err != nil {
					b.Fatal(err)
				}
				files = append(files, data)
			}
			return nil
		})
		b.SetBytes(total)
		b.ResetTimer()
		for range b.N {
			for _, f := range files {
				blake3.Sum256(f)
			}
		}
	})
}
