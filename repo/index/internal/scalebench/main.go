package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/internal/mallocarena"
	"github.com/holdfast-backup/holdfast/repo/index"
)

func main() {
	var (
		n        = flag.Int("n", 1_000_000, "chunk entries to insert")
		batch    = flag.Int("batch", 10_000, "IDs per insert batch and per Missing call")
		rounds   = flag.Int("rounds", 200, "Missing calls to time")
		dir      = flag.String("dir", "", "index directory (default: a new temporary directory, removed at the end)")
		reuse    = flag.Bool("reuse", false, "skip inserting: -dir already holds -n entries from an earlier run")
		cache    = flag.Int64("cache", 0, "block cache bytes (0: index default)")
		memtable = flag.Int("memtable", 0, "memtable bytes (0: index default)")
		verbose  = flag.Bool("v", false, "print Pebble's metrics at the end")
		present  = flag.Int("present", 50, "percent of each Missing batch that is present (0-100)")
		cpuprof  = flag.String("cpuprofile", "", "write a CPU profile of the Missing loop to this file")
		memprof  = flag.String("memprofile", "", "write an allocation profile to this file at the end")
		pins     = flag.Bool("pins", false, "with -refs: also pin the sample as present for one session and time the walk over those pins that replaces the lookups in that session's commit (its pin writes raise the peak RSS)")
		refs     = flag.Int("refs", 0, "also look up a sorted sample of this percent of the stored IDs in ascending batches, as a commit's reference check does (0: skip)")
		churnN   = flag.Int("churn", 0, "at the end, run this many rounds of Missing over a batch that is half new IDs followed by storing the new ones, as backups of new data do (it grows the index; 0: skip)")
		presence = flag.Int64("presence", 0, "presence table memory bound in bytes (0: index default, -1: off, so Missing asks Pebble)")
		floor    = flag.Bool("floor", true, "also time one 4 KiB pread per looked-up ID from the largest table: the cost of a page-cache read, which an exact, disk-backed lookup of a present ID pays at least once")
	)
	flag.Parse()
	arenas := mallocarena.Limit(2) // as holdfastd does
	if *dir == "" {
		d, err := os.MkdirTemp("", "holdfast-scalebench-")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(d)
		*dir = d
	}

	rss := startSampler()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	x, err := index.Open(*dir, index.Options{CacheSize: *cache, MemTableSize: *memtable, PresenceMemory: *presence, Logger: logger})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("index %s, %d entries, GOMAXPROCS=%d, C allocator capped at 2 arenas: %v\n", *dir, *n, runtime.GOMAXPROCS(0), arenas)

	if !*reuse {
		rss.reset()
		start := time.Now()
		for from := 0; from < *n; from += *batch {
			b := x.NewBatch()
			for i := from; i < min(from+*batch, *n); i++ {
				b.PutChunk(1, chunkID(1, uint64(i)), chunkLoc(i))
			}
			if err := b.Commit(true); err != nil {
				log.Fatal(err)
			}
			if from%(*n/10+1) < *batch && from > 0 {
				st, _ := x.Stats()
				fmt.Printf("  %9d entries  %6.1fs  RSS %4d MiB  L0 %d files  debt %d MiB\n",
					from, time.Since(start).Seconds(), rss.now()>>20, st.L0Files, st.CompactionDebtMB)
			}
		}
		d := time.Since(start)
		fmt.Printf("insert: %d entries in %.1fs = %.0f inserts/s (synced batches of %d), peak RSS %d MiB\n",
			*n, d.Seconds(), float64(*n)/d.Seconds(), *batch, rss.peak()>>20)
		start = time.Now()
		settle(x)
		fmt.Printf("settle: flush and compactions took %.1fs, peak RSS %d MiB\n", time.Since(start).Seconds(), rss.peak()>>20)
	}

	st, _ := x.Stats()
	fmt.Printf("disk: %.1f MiB (%.1f bytes/entry), read amplification %d\n",
		float64(st.DiskBytes)/(1<<20), float64(st.DiskBytes)/float64(*n), st.ReadAmp)

	if *presence >= 0 {
		buildPresence(x, rss)
	}

	// Lookups on one core: the batches are made before timing.
	rng := rand.New(rand.NewPCG(7, 8))
	const distinct = 20
	batches := make([][]format.ID, distinct)
	for k := range batches {
		ids := make([]format.ID, *batch)
		for i := range ids {
			if isPresent(i, *present) {
				ids[i] = chunkID(1, uint64(rng.IntN(*n)))
			} else {
				ids[i] = chunkID(2, rng.Uint64())
			}
		}
		// Missing sorts its input, so the order here does not matter.
		batches[k] = ids
	}
	procs := runtime.GOMAXPROCS(1)
	rss.reset()
	s0, _ := x.Stats()
	missing := make([]format.ID, 0, *batch)
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
	}
	// The lookups run on this goroutine's locked thread, so the thread's
	// CPU time is the one core's work, whatever else the machine runs.
	runtime.LockOSThread()
	var d, cpu time.Duration
	proc0 := processCPU()
	for r := range *rounds {
		// Each round uses one of the prepared batches with its present
		// half redrawn, so the block cache sees new keys every round; only
		// the Missing call is timed.
		ids := batches[r%distinct]
		if r >= distinct {
			for i := range ids {
				if isPresent(i, *present) {
					ids[i] = chunkID(1, uint64(rng.IntN(*n)))
				}
			}
		}
		start, cpu0 := time.Now(), threadCPU()
		m, err := x.Missing(1, ids, missing[:0])
		d += time.Since(start)
		cpu += threadCPU() - cpu0
		if err != nil {
			log.Fatal(err)
		}
		if got, want := len(m), *batch-*batch**present/100; got < want || got > want+want/20+1 {
			log.Fatalf("round %d: %d missing, want about %d", r, got, want)
		}
	}
	proc := processCPU() - proc0
	pprof.StopCPUProfile()
	runtime.UnlockOSThread()
	runtime.GOMAXPROCS(procs)
	s1, _ := x.Stats()
	total := *rounds * *batch
	fmt.Printf("missing: %d calls of %d IDs (%d%% present) in %.2fs = %.0f IDs/s on GOMAXPROCS=1, peak RSS %d MiB\n",
		*rounds, *batch, *present, d.Seconds(), float64(total)/d.Seconds(), rss.peak()>>20)
	fmt.Printf("  on-CPU: %.2fs of the lookup thread = %.0f IDs per CPU-second (%.2f µs per ID)\n",
		cpu.Seconds(), float64(total)/cpu.Seconds(), cpu.Seconds()*1e6/float64(total))
	fmt.Printf("  whole process meanwhile: %.2f CPU-s (%.0f IDs per CPU-second)\n", proc.Seconds(), float64(total)/proc.Seconds())
	if p0, p1 := s0.Presence, s1.Presence; p1.Answered > p0.Answered {
		fmt.Printf("  presence table answered %d of %d IDs with %d reads (io_uring: %v)\n",
			p1.Answered-p0.Answered, total, p1.Reads-p0.Reads, p1.Ring)
	}
	if *floor {
		readFloor(*dir, total)
	}
	if *refs > 0 {
		lookupRefs(x, *n, *refs, *batch, *pins, rss)
	}
	if *churnN > 0 {
		churn(x, *n, *churnN, *batch, rss)
	}
	if *memprof != "" {
		writeAllocs(*memprof)
	}
	fmt.Printf("  block cache: %d hits, %d misses; bloom filter: %d reads avoided, %d not\n",
		s1.CacheHits-s0.CacheHits, s1.CacheMisses-s0.CacheMisses, s1.FilterHits-s0.FilterHits, s1.FilterMisses-s0.FilterMisses)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("go runtime: heap in use %d MiB, total from OS %d MiB, %d GCs\n",
		ms.HeapInuse>>20, ms.Sys>>20, ms.NumGC)
	if *verbose {
		fmt.Println(x.String())
	}
	if err := x.Close(); err != nil {
		log.Fatal(err)
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("peak RSS: %d MiB sampled (VmRSS every 500ms), %d MiB getrusage Maxrss\n",
		rss.max.Load()>>20, ru.Maxrss>>10)
}

// chunkID returns the nth ID of stream: random-looking and reproducible
// without keeping ten million IDs in memory.
func chunkID(stream, n uint64) format.ID {
	var id format.ID
	r := rand.NewPCG(stream, n) // stays on the stack: no allocation
	for i := 0; i < len(id); i += 8 {
		binary.LittleEndian.PutUint64(id[i:], r.Uint64())
	}
	return id
}

// chunkLoc is a realistic location: 32 chunks of about 1 MiB per pack,
// random pack IDs and checksums.
func chunkLoc(i int) indexkey.ChunkLoc {
	loc := indexkey.ChunkLoc{
		Pack:   chunkID(100, uint64(i/32)),
		Offset: uint64(i%32) << 20,
		Length: uint32(1<<20 - i%4096),
	}
	sum := chunkID(101, uint64(i))
	copy(loc.Checksum[:], sum[:])
	return loc
}

// settle flushes and waits for compactions to finish.
func settle(x *index.Index) {
	if err := x.Flush(); err != nil {
		log.Fatal(err)
	}
	for {
		st, err := x.Stats()
		if err != nil {
			log.Fatal(err)
		}
		if st.CompactionsNow == 0 && st.CompactionDebtMB == 0 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sampler records the peak VmRSS, read every 500 ms.
type sampler struct {
	max   atomic.Int64 // over the whole run
	phase atomic.Int64 // since the last reset
}

func startSampler() *sampler {
	s := new(sampler)
	go func() {
		for {
			s.sample()
			time.Sleep(500 * time.Millisecond)
		}
	}()
	return s
}

func (s *sampler) sample() {
	v := vmRSS()
	for _, m := range []*atomic.Int64{&s.max, &s.phase} {
		for old := m.Load(); v > old && !m.CompareAndSwap(old, v); old = m.Load() {
		}
	}
}

func (s *sampler) reset()      { s.phase.Store(vmRSS()) }
func (s *sampler) peak() int64 { s.sample(); return s.phase.Load() }
func (s *sampler) now() int64  { return vmRSS() }

// vmRSS returns the resident set size from /proc/self/status, in bytes.
func vmRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// isPresent says whether position i of a batch draws a stored ID, so that
// present percent of every batch is present.
func isPresent(i, percent int) bool { return i%100 < percent }
