package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// cliBenchData writes about 256 MiB: 6,000 small files (1 to 16 KiB), four
// 32 MiB files that compress to about half and two 40 MiB random files.
func cliBenchData(tb testing.TB, dir string) int64 {
	var total int64
	rnd := func(seed byte, n int) []byte {
		b := make([]byte, n)
		rand.NewChaCha8([32]byte{seed}).Read(b)
		return b
	}
	write := func(p string, data []byte) {
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			tb.Fatal(err)
		}
		total += int64(len(data))
	}
	small := rnd(1, 16<<10*6000)
	for i := range 6000 {
		n := 1<<10 + (i*7919)%(15<<10)
		write(filepath.Join(dir, "small", fmt.Sprintf("d%02d", i%60), fmt.Sprintf("f%04d", i)), small[i*16<<10:i*16<<10+n])
	}
	text := bytes.Repeat([]byte("holdfast keeps half of this block compressible. "), 700)[:32<<10]
	for i := range 4 {
		r := rnd(byte(10+i), 16<<20)
		buf := make([]byte, 0, 32<<20)
		for off := 0; off < len(r); off += 32 << 10 {
			buf = append(append(buf, r[off:off+32<<10]...), text...)
		}
		write(filepath.Join(dir, "half", fmt.Sprintf("h%d", i)), buf)
	}
	for i := range 2 {
		write(filepath.Join(dir, "random", fmt.Sprintf("r%d", i)), rnd(byte(20+i), 40<<20))
	}
	return total
}

// BenchmarkBackupCLI runs the static client binary against a loopback
// server over about 256 MiB, a full backup into a fresh repository and an
// unchanged one, and reports the child's peak RSS (getrusage), which must
// stay at or under 512 MiB.
//
//	go test ./cmd/holdfast -run '^$' -bench BackupCLI -benchtime 1x
func BenchmarkBackupCLI(b *testing.B) {
	dir := b.TempDir()
	total := cliBenchData(b, dir)
	srv := newCLIServer(b)
	for i := range b.N {
		_, backup, _ := cliSetup(b, srv, fmt.Sprintf("bench-%d", i))
		start := time.Now()
		full := backup.run(b, "backup", dir, "--json").want(b, 0, "full backup")
		fullTime := time.Since(start)
		start = time.Now()
		again := backup.run(b, "backup", dir, "--json").want(b, 0, "unchanged backup")
		againTime := time.Since(start)
		var sum struct {
			BytesRead int64 `json:"bytes_read"`
		}
		if err := json.Unmarshal([]byte(again.lastLine()), &sum); err != nil || sum.BytesRead != 0 {
			b.Fatalf("unchanged backup: %s (%v)", again.lastLine(), err)
		}
		b.ReportMetric(float64(total)/fullTime.Seconds()/1e6, "full-MB/s")
		b.ReportMetric(againTime.Seconds(), "unchanged-s")
		b.ReportMetric(float64(full.maxRSS)/(1<<20), "full-peak-RSS-MiB")
		b.ReportMetric(float64(again.maxRSS)/(1<<20), "unchanged-peak-RSS-MiB")
		if full.maxRSS > 512<<20 || again.maxRSS > 512<<20 {
			b.Errorf("peak RSS %d / %d MiB, over 512 MiB", full.maxRSS>>20, again.maxRSS>>20)
		}
	}
}
