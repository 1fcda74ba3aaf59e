package main

import (
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/repo/index"
)

// buildPresence starts the presence table's build the way a server does
// (the first Missing call), waits for it and reports its cost.
func buildPresence(x *index.Index, rss *sampler) {
	rss.reset()
	start := time.Now()
	if _, err := x.Missing(1, []format.ID{{1}}, nil); err != nil {
		log.Fatal(err)
	}
	for {
		st, err := x.Stats()
		if err != nil {
			log.Fatal(err)
		}
		p := st.Presence
		if p.Ready {
			fmt.Printf("presence table: %d entries built in %.1fs (%.1fs of it the build), %.1f MiB of fences and filters (%s), peak RSS %d MiB\n",
				p.Entries, time.Since(start).Seconds(), p.LastBuild.Seconds(), float64(p.Memory)/(1<<20), hugePages(), rss.peak()>>20)
			return
		}
		if p.Errors > 0 {
			log.Fatalf("presence table build failed (%+v)", p)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// churn runs rounds of what a backup of new data does to the index: a
// Missing call of batch IDs, half stored and half new, then one synced
// batch that stores the new ones. The presence table takes the puts into
// its delta and rebuilds itself in the background (on another core) each
// time the delta reaches its threshold; this reports what that costs.
func churn(x *index.Index, n, rounds, batch int, rss *sampler) {
	rng := rand.New(rand.NewPCG(13, 14))
	s0, _ := x.Stats()
	rss.reset()
	cpu0, start := processCPU(), time.Now()
	var lookups time.Duration
	next := uint64(0)
	missing := make([]format.ID, 0, batch)
	for r := range rounds {
		if r%100 == 0 {
			st, _ := x.Stats()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			fmt.Printf("  round %d: %.1fs RSS %d MiB heap %d/%d MiB presence %+v memtables %d MiB cache %d MiB\n", r, time.Since(start).Seconds(), rss.now()>>20, ms.HeapInuse>>20, ms.Sys>>20, st.Presence, st.MemTableBytes>>20, st.CacheBytes>>20)
		}
		ids := make([]format.ID, batch)
		for i := range ids {
			if i%2 == 0 {
				ids[i] = chunkID(1, uint64(rng.IntN(n)))
			} else {
				ids[i] = chunkID(3, next)
				next++
			}
		}
		t := time.Now()
		m, err := x.Missing(1, ids, missing[:0])
		lookups += time.Since(t)
		if err != nil {
			log.Fatal(err)
		}
		if len(m) > batch/2+batch/20 || len(m) < batch/2 {
			log.Fatalf("churn: %d of %d missing, want about %d", len(m), batch, batch/2)
		}
		b := x.NewBatch()
		for i, id := range m {
			b.PutChunk(1, id, chunkLoc(n+int(next)+i))
		}
		if err := b.Commit(true); err != nil {
			log.Fatal(err)
		}
	}
	d, cpu := time.Since(start), processCPU()-cpu0
	s1, _ := x.Stats()
	p0, p1 := s0.Presence, s1.Presence
	total := rounds * batch
	fmt.Printf("churn: %d rounds of Missing(%d IDs, half new) + storing the new: %.1fs, %.1f CPU-s in all; Missing %.0f IDs/s (wall); %d table builds (last %.1fs), %d of %d IDs answered by the table; peak RSS %d MiB\n",
		rounds, batch, d.Seconds(), cpu.Seconds(), float64(total)/lookups.Seconds(),
		p1.Builds-p0.Builds, p1.LastBuild.Seconds(), p1.Answered-p0.Answered, total, rss.peak()>>20)
}

// hugePages reports the process's anonymous memory in transparent huge
// pages, where the table's fences and filters should be.
func hugePages() string {
	b, err := os.ReadFile("/proc/self/smaps_rollup")
	if err != nil {
		return "huge pages unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "AnonHugePages:"); ok {
			return "anonymous huge pages " + strings.TrimSpace(v)
		}
	}
	return "no huge page count"
}
