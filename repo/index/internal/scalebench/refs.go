package main

import (
	"fmt"
	"log"
	"math/rand/v2"
	"runtime"
	"slices"
	"time"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/repo/index"
)

// lookupRefs times Missing over a sorted sample of percent of the n stored
// IDs, in consecutive batches of batch IDs, on one locked thread with
// GOMAXPROCS=1. That is how the server meets present IDs in practice: a
// commit checks its snapshot's reference list, and a backup pins its
// parent's, both ascending, so that one batch covers a narrow slice of the
// key space and neighbouring IDs share data blocks. The sample (32 bytes
// per ID) lives in this process and counts in its RSS.
func lookupRefs(x *index.Index, n, percent, batch int, pins bool, rss *sampler) {
	rng := rand.New(rand.NewPCG(11, 12))
	var refs []format.ID
	for i := range n {
		if rng.IntN(100) < percent {
			refs = append(refs, chunkID(1, uint64(i)))
		}
	}
	slices.SortFunc(refs, func(a, b format.ID) int { return a.Compare(b) })
	procs := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(procs)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	rss.reset()
	s0, _ := x.Stats()
	missing := make([]format.ID, 0, batch)
	var d, cpu time.Duration
	for from := 0; from < len(refs); from += batch {
		ids := refs[from:min(from+batch, len(refs))]
		start, cpu0 := time.Now(), threadCPU()
		m, err := x.Missing(1, ids, missing[:0])
		d += time.Since(start)
		cpu += threadCPU() - cpu0
		if err != nil {
			log.Fatal(err)
		}
		if len(m) != 0 {
			log.Fatalf("reference lookup: %d of %d stored IDs missing", len(m), len(ids))
		}
	}
	s1, _ := x.Stats()
	fmt.Printf("refs: %d stored IDs (%d%% of the index) in ascending batches of %d in %.2fs = %.0f IDs/s on GOMAXPROCS=1, peak RSS %d MiB\n",
		len(refs), percent, batch, d.Seconds(), float64(len(refs))/d.Seconds(), rss.peak()>>20)
	fmt.Printf("  on-CPU: %.2fs = %.0f IDs per CPU-second; block cache %d hits, %d misses\n",
		cpu.Seconds(), float64(len(refs))/cpu.Seconds(), s1.CacheHits-s0.CacheHits, s1.CacheMisses-s0.CacheMisses)
	if pins {
		presentPins(x, refs, batch)
	}
}

// presentPins pins refs as present for one session (untimed), then times
// what a commit of that session does instead of looking them up: walk the
// session's present pins over each batch's range (index.PresentPins, the
// merge in repo.notPresentPinned).
func presentPins(x *index.Index, refs []format.ID, batch int) {
	sid := indexkey.SessionID{0xbe, 0x9c}
	for from := 0; from < len(refs); from += batch {
		b := x.NewBatch()
		for _, id := range refs[from:min(from+batch, len(refs))] {
			b.PinPresent(1, sid, id)
		}
		if err := b.Commit(false); err != nil {
			log.Fatal(err)
		}
	}
	var d, cpu time.Duration
	found := 0
	for from := 0; from < len(refs); from += batch {
		ids := refs[from:min(from+batch, len(refs))]
		start, cpu0 := time.Now(), threadCPU()
		err := x.PresentPins(1, sid, ids[0], ids[len(ids)-1], func(format.ID) error { found++; return nil })
		d += time.Since(start)
		cpu += threadCPU() - cpu0
		if err != nil {
			log.Fatal(err)
		}
	}
	if found != len(refs) {
		log.Fatalf("present pins: %d of %d found", found, len(refs))
	}
	b := x.NewBatch()
	b.UnpinAll(1, sid)
	if err := b.Commit(false); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("refs with present pins: the same %d IDs in %.2fs = %.0f IDs/s, on-CPU %.0f IDs per CPU-second\n",
		len(refs), d.Seconds(), float64(len(refs))/d.Seconds(), float64(len(refs))/cpu.Seconds())
}
