//go:build unix

package uring

import (
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// BenchmarkReadBatch reads batches of 512 random 512-byte spans of a
// 256 MiB file in the page cache, the shape of a presence-table lookup.
func BenchmarkReadBatch(b *testing.B) {
	const (
		fileSize = 256 << 20
		batch    = 512
		readSize = 512
	)
	f := benchFile(b, fileSize)
	for _, c := range []struct {
		name    string
		entries int
		ring    bool
	}{
		{"ring", batch, true},   // one io_uring_enter per batch
		{"ring256", 256, true},  // the presence table's ring size: two
		{"pread", batch, false}, // one pread per read
	} {
		b.Run(c.name, func(b *testing.B) {
			r := newReader(c.entries, c.ring)
			defer r.Close()
			if r.Ring() != c.ring {
				b.Skipf("no io_uring: %v", r.ringErr)
			}
			// Batches are drawn up front, so that the timed loop holds
			// nothing but ReadBatch, and read once untimed, so that it
			// does not count the first touch of their buffers either.
			rng := rand.New(rand.NewPCG(1, 2))
			batches := make([][]Read, 16)
			for j := range batches {
				batches[j] = make([]Read, batch)
				for i := range batches[j] {
					batches[j][i] = Read{Off: rng.Int64N(fileSize - readSize), Buf: make([]byte, readSize)}
				}
				if err := r.ReadBatch(int(f.Fd()), batches[j]); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			cpu0 := processCPU(b)
			for n := range b.N {
				if err := r.ReadBatch(int(f.Fd()), batches[n%len(batches)]); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			cpu := processCPU(b) - cpu0
			for _, rd := range batches[(b.N-1)%len(batches)] {
				if rd.Err != nil || rd.N != readSize {
					b.Fatalf("read at %d: N = %d, Err = %v", rd.Off, rd.N, rd.Err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/read")
			// The process's CPU, not the loop's time: it also counts
			// what the reads cost other threads (the runtime's, the
			// kernel's workers), which the loop's time does not show.
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*batch), "cpu-ns/read")
		})
	}
}

// benchFile writes size random bytes to a temporary file and reads it
// back once, so that the benchmark measures reads from the page cache.
func benchFile(b *testing.B, size int) *os.File {
	b.Helper()
	path := filepath.Join(b.TempDir(), "data")
	w, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.CopyN(w, rand.NewChaCha8([32]byte{2}), int64(size)); err != nil {
		b.Fatal(err)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = f.Close() })
	if _, err := io.Copy(io.Discard, f); err != nil {
		b.Fatal(err)
	}
	return f
}

// processCPU is the CPU time, user and system, of every thread of the
// process so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
