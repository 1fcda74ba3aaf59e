//go:build unix

package uring

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

const testFileSize = 3<<20 + 123 // a few MiB, not a multiple of any page size

// testFile writes size random bytes to a temporary file and returns it open.
func testFile(tb testing.TB, size int) *os.File {
	tb.Helper()
	data := make([]byte, size)
	rng := rand.NewChaCha8([32]byte{1})
	_, _ = rng.Read(data)
	path := filepath.Join(tb.TempDir(), "data")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = f.Close() })
	return f
}

// randomReads returns n reads of 0–4 KiB at random offsets, some crossing
// the end of a file of size bytes, some starting at or past it.
func randomReads(seed uint64, size int64, n int) []Read {
	rng := rand.New(rand.NewPCG(seed, 0))
	reads := make([]Read, n)
	for i := range reads {
		var off int64
		switch rng.IntN(10) {
		case 0: // near the end, so that many reads cross it
			off = size - rng.Int64N(4096)
		case 1: // at or past the end
			off = size + rng.Int64N(4096)
		default:
			off = rng.Int64N(size)
		}
		reads[i] = Read{Off: off, Buf: make([]byte, rng.IntN(4097))}
	}
	return reads
}

// requireRing fails unless r uses io_uring, skipping where the kernel or a
// sandbox does not offer it; elsewhere than Linux it only needs pread.
func requireRing(t *testing.T, r *Reader) {
	t.Helper()
	if runtime.GOOS != "linux" {
		if r.Ring() {
			t.Fatal("Ring() = true without io_uring")
		}
		return
	}
	if r.Ring() {
		return
	}
	if b, err := os.ReadFile("/proc/sys/kernel/io_uring_disabled"); err == nil && strings.TrimSpace(string(b)) != "0" {
		t.Skipf("io_uring is disabled (kernel.io_uring_disabled = %s)", strings.TrimSpace(string(b)))
	}
	if errors.Is(r.ringErr, syscall.ENOSYS) || errors.Is(r.ringErr, syscall.EPERM) {
		t.Skipf("io_uring_setup refused (%v): kernel without io_uring or a seccomp profile", r.ringErr)
	}
	t.Fatalf("io_uring is available but the Reader uses pread: %v", r.ringErr)
}

// checkReads compares every read with os.File.ReadAt.
func checkReads(t *testing.T, f *os.File, reads []Read) {
	t.Helper()
	bad := 0
	for i, rd := range reads {
		want := make([]byte, len(rd.Buf))
		n, err := f.ReadAt(want, rd.Off)
		if n < len(want) && err == nil {
			t.Fatalf("ReadAt(%d, %d): short without error", len(want), rd.Off)
		}
		if rd.Err != nil || rd.N != n || !bytes.Equal(rd.Buf[:rd.N], want[:n]) {
			t.Errorf("read %d (off %d, len %d): N = %d, Err = %v; want N = %d, Err = nil, bytes equal = %v",
				i, rd.Off, len(rd.Buf), rd.N, rd.Err, n, bytes.Equal(rd.Buf[:rd.N], want[:min(rd.N, n)]))
			if bad++; bad == 10 {
				t.FailNow()
			}
		}
	}
}

// readers returns a ring Reader (or skips) and a pread Reader.
func readers(t *testing.T, entries int) map[string]*Reader {
	ring := newReader(entries, true)
	t.Cleanup(func() { _ = ring.Close() })
	requireRing(t, ring)
	pread := newReader(entries, false)
	t.Cleanup(func() { _ = pread.Close() })
	if pread.Ring() {
		t.Fatal("forced pread Reader has a ring")
	}
	return map[string]*Reader{"ring": ring, "pread": pread}
}

func TestReadBatchMatchesReadAt(t *testing.T) {
	f := testFile(t, testFileSize)
	for _, entries := range []int{1, 8, 256} {
		for name, r := range readers(t, entries) {
			for seed, n := range []int{1, 7, 1000} {
				reads := randomReads(uint64(seed), testFileSize, n)
				if err := r.ReadBatch(int(f.Fd()), reads); err != nil {
					t.Fatalf("%s/%d: ReadBatch: %v", name, entries, err)
				}
				checkReads(t, f, reads)
			}
			if name == "ring" {
				requireRing(t, r) // still: nothing made it fall back
			}
		}
	}
}

// TestBatchLargerThanRing: a batch of 1000 reads through a ring of 8 takes
// many groups, each reaped before the next is queued.
func TestBatchLargerThanRing(t *testing.T) {
	f := testFile(t, testFileSize)
	r := NewReader(8)
	defer r.Close()
	requireRing(t, r)
	for round := range 3 { // the ring is reused across batches
		reads := randomReads(uint64(100+round), testFileSize, 1000)
		if err := r.ReadBatch(int(f.Fd()), reads); err != nil {
			t.Fatal(err)
		}
		checkReads(t, f, reads)
	}
	requireRing(t, r)
}

// TestRingAndPreadAgree: the two paths give the same N, Err and bytes for
// the same reads, errors included.
func TestRingAndPreadAgree(t *testing.T) {
	f := testFile(t, testFileSize)
	dir, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	rs := readers(t, 64)
	for _, fd := range []int{int(f.Fd()), int(dir.Fd()), -1} {
		var got [][]Read
		for _, name := range []string{"ring", "pread"} {
			reads := randomReads(42, testFileSize, 500)
			reads = append(reads, Read{Off: -1, Buf: make([]byte, 10)}, Read{Off: 5})
			if err := rs[name].ReadBatch(fd, reads); err != nil {
				t.Fatal(err)
			}
			got = append(got, reads)
		}
		for i := range got[0] {
			a, b := got[0][i], got[1][i]
			if a.N != b.N || !errors.Is(a.Err, b.Err) || !bytes.Equal(a.Buf[:a.N], b.Buf[:b.N]) {
				t.Fatalf("fd %d, read %d (off %d, len %d): ring N = %d, Err = %v; pread N = %d, Err = %v",
					fd, i, a.Off, len(a.Buf), a.N, a.Err, b.N, b.Err)
			}
		}
	}
	requireRing(t, rs["ring"]) // per-read errors do not make it fall back
}

// TestBadFD: reads from descriptors that are not open each get EBADF,
// promptly; a read of nothing gets no error, as it needs no system call.
func TestBadFD(t *testing.T) {
	for name, r := range readers(t, 16) {
		for _, fd := range []int{-1, 1 << 30, math.MaxInt} {
			reads := randomReads(7, 1<<20, 100)
			reads = append(reads, Read{Off: 0, Buf: nil})
			if err := r.ReadBatch(fd, reads); err != nil {
				t.Fatal(err)
			}
			for i, rd := range reads {
				want := error(syscall.EBADF)
				if len(rd.Buf) == 0 {
					want = nil
				}
				if rd.N != 0 || !errors.Is(rd.Err, want) || (want == nil && rd.Err != nil) {
					t.Fatalf("%s: fd %d, read %d: N = %d, Err = %v; want 0, %v", name, fd, i, rd.N, rd.Err, want)
				}
			}
		}
	}
}

func TestNegativeOffset(t *testing.T) {
	f := testFile(t, 4096)
	for name, r := range readers(t, 4) {
		reads := []Read{{Off: -1, Buf: make([]byte, 8)}, {Off: -4096, Buf: make([]byte, 8)}, {Off: 8, Buf: make([]byte, 8)}}
		if err := r.ReadBatch(int(f.Fd()), reads); err != nil {
			t.Fatal(err)
		}
		for _, rd := range reads[:2] {
			if rd.N != 0 || !errors.Is(rd.Err, syscall.EINVAL) {
				t.Errorf("%s: off %d: N = %d, Err = %v; want 0, EINVAL", name, rd.Off, rd.N, rd.Err)
			}
		}
		checkReads(t, f, reads[2:])
	}
}

func TestClose(t *testing.T) {
	f := testFile(t, 4096)
	for name, r := range readers(t, 4) {
		if err := r.Close(); err != nil {
			t.Fatalf("%s: Close: %v", name, err)
		}
		if err := r.Close(); err != nil {
			t.Fatalf("%s: second Close: %v", name, err)
		}
		if r.Ring() {
			t.Errorf("%s: Ring() after Close", name)
		}
		reads := []Read{{Off: 0, Buf: make([]byte, 8)}}
		if err := r.ReadBatch(int(f.Fd()), reads); !errors.Is(err, ErrClosed) {
			t.Errorf("%s: ReadBatch after Close = %v, want ErrClosed", name, err)
		}
	}
}

// TestEntriesClamped: any entries gives a working Reader.
func TestEntriesClamped(t *testing.T) {
	f := testFile(t, 1<<20)
	for _, entries := range []int{-5, 0, 3, 5000} {
		r := NewReader(entries)
		requireRing(t, r)
		reads := randomReads(9, 1<<20, 50)
		if err := r.ReadBatch(int(f.Fd()), reads); err != nil {
			t.Fatal(err)
		}
		checkReads(t, f, reads)
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
