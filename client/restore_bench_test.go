package client

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zeebo/blake3"
)

// BenchmarkRestore restores about 256 MiB of mixed files (large files in
// 1 MiB chunks, medium and small files, a sparse file) from a server on
// loopback into a temporary directory. Besides MB/s it reports the speed
// of blake3.Sum256 over the same bytes (the floor of any restore: every
// chunk's ID is checked) and the peak RSS of the whole process during the
// restores, server included (Linux: VmHWM after resetting it).
//
//	go test ./client -run '^$' -bench BenchmarkRestore -benchtime 3x
func BenchmarkRestore(b *testing.B) {
	s := newRSServer(b)
	r := s.initRepo(b)
	snap, total, hashRate := rsBenchSnapshot(b, r)
	ctx := context.Background()
	base := b.TempDir()
	var small []string
	for d := range 8 {
		small = append(small, fmt.Sprintf("small-%d", d))
	}
	for _, sub := range []struct {
		name    string
		include []string
		bytes   int64
	}{
		{"mixed", nil, total},
		{"large", []string{"large", "sparse.img"}, 4*32<<20 + 16<<20},
		{"small", small, 8 * 250 * (4<<10 + 24<<10)},
	} {
		b.Run(sub.name, func(b *testing.B) {
			runtime.GC()
			debug.FreeOSMemory()
			resetPeak := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
			b.SetBytes(sub.bytes)
			b.ResetTimer()
			for i := range b.N {
				target := filepath.Join(base, strconv.Itoa(i))
				res, err := r.Restore(ctx, snap, RestoreOptions{Target: target, Include: sub.include})
				if err != nil {
					b.Fatal(err)
				}
				if res.Bytes != sub.bytes {
					b.Fatalf("restored %d bytes, want %d", res.Bytes, sub.bytes)
				}
				b.StopTimer()
				os.RemoveAll(target)
				b.StartTimer()
			}
			b.StopTimer()
			b.ReportMetric(hashRate, "blake3-MB/s")
			if peak := rsPeakRSS(); resetPeak && peak > 0 {
				b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MiB")
			}
		})
	}

	// The client alone: the holdfast binary restoring in its own process,
	// whose peak RSS the kernel reports (process start and key unwrap
	// included in the time).
	b.Run("cli-mixed", func(b *testing.B) {
		bin := filepath.Join(b.TempDir(), "holdfast")
		if out, err := exec.Command("go", "build", "-o", bin, "../cmd/holdfast").CombinedOutput(); err != nil {
			b.Fatalf("build: %v\n%s", err, out)
		}
		b.SetBytes(total)
		b.ResetTimer()
		var peak int64
		for i := range b.N {
			target := filepath.Join(base, "cli"+strconv.Itoa(i))
			cmd := exec.Command(bin, "restore", snap.ID.String(), "--target", target)
			cmd.Env = []string{"HOLDFAST_SERVER=" + s.url, "HOLDFAST_TOKEN=" + s.tokens["restore"],
				"HOLDFAST_REPO=" + s.repo, "HOLDFAST_PASSWORD=" + rsPassword}
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("restore: %v\n%s", err, out)
			}
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				peak = max(peak, ru.Maxrss<<10)
			}
			b.StopTimer()
			os.RemoveAll(target)
			b.StartTimer()
		}
		b.StopTimer()
		b.ReportMetric(float64(peak)/(1<<20), "client-peak-RSS-MiB")
	})
}

// rsBenchSnapshot uploads the benchmark's snapshot and returns it with its
// content bytes (holes excluded) and blake3.Sum256's MB/s over them.
func rsBenchSnapshot(b *testing.B, r *Repository) (Snapshot, int64, float64) {
	bld := newRSBuilder(b, r)
	bld.chunkSize = 1 << 20
	var total int64
	var hashTime time.Duration
	seed := uint64(1000)
	file := func(name string, n int) *rsNode {
		seed++
		data := rsRandom(seed, n)
		start := time.Now()
		blake3.Sum256(data)
		hashTime += time.Since(start)
		total += int64(n)
		return rsFile(name, 0o644, rsData(data))
	}
	dir := func(name string, kids []*rsNode) *rsNode {
		// Encode each directory as soon as it is complete, so its files'
		// bytes can be collected before the next one is generated.
		d := rsDirOf(name, 0o755)
		d.raw = rsEncodeNow(bld, kids)
		return d
	}
	var top []*rsNode
	var large []*rsNode
	for i := range 4 {
		large = append(large, file(fmt.Sprintf("large-%d.bin", i), 32<<20))
	}
	top = append(top, dir("large", large))
	var medium []*rsNode
	for i := range 64 {
		medium = append(medium, file(fmt.Sprintf("medium-%02d.bin", i), 1<<20))
	}
	top = append(top, dir("medium", medium))
	for d := range 8 {
		var small []*rsNode
		for i := range 500 {
			n := 4 << 10
			if i%2 == 0 {
				n = 24 << 10
			}
			small = append(small, file(fmt.Sprintf("small-%03d", i), n))
		}
		top = append(top, dir(fmt.Sprintf("small-%d", d), small))
	}
	seed++
	sparse := rsRandom(seed, 16<<20)
	total += int64(len(sparse))
	top = append(top, rsFile("sparse.img", 0o644, rsHole(64<<20), rsData(sparse), rsHole(32<<20)))
	snap := bld.commit(top, nil)
	return snap, total, float64(total-int64(len(sparse))) / hashTime.Seconds() / 1e6
}

// rsEncodeNow uploads the listing of kids and returns its bytes.
func rsEncodeNow(bld *rsBuilder, kids []*rsNode) []byte {
	var raws [][]byte
	for _, k := range kids {
		raws = append(raws, bld.rsRecord(k))
	}
	return rsRawTree(raws...)
}

// rsPeakRSS returns VmHWM from /proc/self/status, in bytes.
func rsPeakRSS() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
