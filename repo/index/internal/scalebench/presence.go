package main

import (
	"fmt"
	"log"
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
			fmt.Printf("presence table: %d entries built in %.1fs (%.1fs of it the build), %.1f MiB of fences and filters, peak RSS %d MiB\n",
				p.Entries, time.Since(start).Seconds(), p.LastBuild.Seconds(), float64(p.Memory)/(1<<20), rss.peak()>>20)
			return
		}
		if p.Errors > 0 {
			log.Fatalf("presence table build failed (%+v)", p)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
