package main

import (
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"
)

// threadCPU returns the user and system CPU time of the calling thread.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_THREAD, &ru); err != nil {
		log.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processCPU is the CPU time of every thread of the process, including
// any the kernel runs on its behalf (io_uring's workers).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		log.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// readFloor times n preads of 4 KiB at random offsets of the index's table
// files, on one locked thread, after reading every table once so that they
// are in the page cache. It is the baseline for present lookups: the index
// keeps no per-chunk state in memory (so that its resident memory does not
// grow with the chunks), so an exact answer for a present ID costs at least
// one such read of the page cache.
func readFloor(dir string, n int) {
	files, total := openTables(dir)
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	if total == 0 {
		return
	}
	rng := rand.New(rand.NewPCG(9, 10))
	page := make([]byte, 4096)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start, cpu0 := time.Now(), threadCPU()
	for range n {
		f := files[rng.IntN(len(files))]
		if _, err := f.ReadAt(page, rng.Int64N(f.size-4096)); err != nil {
			log.Fatal(err)
		}
	}
	cpu, d := threadCPU()-cpu0, time.Since(start)
	fmt.Printf("floor: %d preads of 4 KiB from %d tables (%d MiB) in the page cache: %.0f reads/s, %.0f per CPU-second (%.2f µs each)\n",
		n, len(files), total>>20, float64(n)/d.Seconds(), float64(n)/cpu.Seconds(), cpu.Seconds()*1e6/float64(n))
}

type table struct {
	*os.File
	size int64
}

// openTables opens every .sst file of dir larger than 64 KiB and reads it
// through once.
func openTables(dir string) ([]table, int64) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		log.Fatal(err)
	}
	var files []table
	var total int64
	buf := make([]byte, 1<<20)
	for _, e := range entries {
		fi, err := e.Info()
		if !strings.HasSuffix(e.Name(), ".sst") || err != nil || fi.Size() < 64<<10 {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			log.Fatal(err)
		}
		for off := int64(0); off < fi.Size(); off += int64(len(buf)) {
			if _, err := f.ReadAt(buf, off); err != nil && off+int64(len(buf)) < fi.Size() {
				log.Fatal(err)
			}
		}
		files = append(files, table{f, fi.Size()})
		total += fi.Size()
	}
	return files, total
}

// writeAllocs writes the allocation profile to path.
func writeAllocs(path string) {
	f, err := os.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		log.Fatal(err)
	}
}
