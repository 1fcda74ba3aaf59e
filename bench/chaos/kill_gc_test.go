package chaos

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/holdfast-backup/holdfast/gc"
)

// TestChaosServerKillGC SIGKILLs the server during `holdfast gc`. GC only
// reclaims packs older than its grace (at least gc.MinGrace), and the
// binary has no test-only way around it: so the scenario backs up first,
// waits the grace once, and then every round forgets the two oldest snapshots past the grace,
// takes a new backup sharing most of its chunks (young packs, in grace)
// and runs gc over the now partly dead old packs, killing the server at a
// random point of gc's measured run time. After every restart each
// snapshot committed and not forgotten lists and restores bit-exact and
// verify --read-data passes; at the end a gc completes and an offline
// scrub --no-repair finds no damage and no dangling index entry.
func TestChaosServerKillGC(t *testing.T) {
	skipShort(t)
	runServerKill(t, gcOp(), roundsOf(4, 50))
}

// gcKeep is how many committed snapshots a round leaves before forgetting.
const gcKeep = 3

// gcAged is how old a snapshot must be for a round to forget it: its packs
// are then past the grace, so the gc that follows has real work to do in
// the long form too (a round's own snapshots age in a later round).
const gcAged = gc.MinGrace + 5*time.Second

// gcJSON is the part of `holdfast gc --json` the scenario reads.
type gcJSON struct {
	PacksDeleted  int  `json:"packs_deleted"`
	PacksRepacked int  `json:"packs_repacked"`
	ChunksFreed   int  `json:"chunks_freed"`
	Interrupted   bool `json:"previous_run_interrupted"`
}

// gcOp forgets the two oldest snapshots (those past the grace, while more
// than gcKeep are left), backs up once more and runs gc.
func gcOp() serverKillOp {
	var forgotten []string
	born := map[string]time.Time{} // when each snapshot was committed
	var completed, freedPacks, freedChunks, resumed int
	// account adds what a completed gc --json reported.
	account := func(s *tally, r result) {
		var j gcJSON
		if err := json.Unmarshal([]byte(r.stdout), &j); err != nil {
			s.fail("gc --json: %v: %q", err, r.stdout)
		}
		completed++
		freedPacks += j.PacksDeleted + j.PacksRepacked
		freedChunks += j.ChunksFreed
		if j.Interrupted {
			resumed++
		}
	}
	return serverKillOp{
		name:       "server-kill-gc",
		args:       []string{"--gc-grace", gc.MinGrace.String()},
		restoreAll: true,
		prepare: func(f *fixture) {
			for range 6 {
				if _, r := f.takeBackup(f.backup); r.code != 0 {
					f.t.Fatalf("backup before the grace wait: %v", r)
				}
				f.src.mutate()
			}
			for _, c := range f.committed {
				born[c.id] = time.Now()
			}
			// Once: age every pack so far past the grace (see the test).
			f.t.Logf("waiting %s for the packs to leave gc's grace", gcAged)
			time.Sleep(gcAged)
		},
		begin: func(f *fixture) *running {
			for range 2 {
				if len(f.committed) <= gcKeep || time.Since(born[f.committed[0].id]) < gcAged {
					break
				}
				old := f.committed[0]
				f.want(f.admin.run("forget", old.id), 0, "forget "+old.id[:12])
				f.committed = f.committed[1:]
				forgotten = append(forgotten, old.id)
			}
			f.src.mutate()
			sn, r := f.takeBackup(f.backup)
			if r.code != 0 {
				f.t.Fatalf("backup between gc rounds: %v", r)
			}
			born[sn.id] = time.Now()
			return f.admin.start("gc", "--json")
		},
		after: func(f *fixture, s *tally, op *running, res result) int64 {
			if res.code == 0 {
				account(s, res)
			}
			ids, err := f.listed()
			if err != nil {
				s.fail("%v", err)
				return 0
			}
			for id := range ids {
				if slices.Contains(forgotten, id) {
					s.fail("forgotten snapshot %s is listed again", id[:12])
				}
			}
			return 0
		},
		final: func(f *fixture, s *tally) []string {
			began := time.Now()
			r := f.admin.run("gc", "--json")
			f.t.Logf("final gc took %s", time.Since(began).Round(time.Millisecond))
			if r.code != 0 {
				s.fail("final gc: %v", r)
			} else {
				account(s, r)
			}
			var restored int64
			restored += f.checkAll(s, nil)
			if freedPacks+freedChunks == 0 {
				s.fail("no gc that completed freed anything in %d runs: the scenario tests nothing", completed)
			}
			f.d.stop()
			if err := f.scrubClean(false); err != nil {
				s.fail("%v", err)
			}
			return []string{itoa(len(forgotten)) + " forgotten", itoa(completed) + " gc completed",
				itoa(freedPacks) + " packs " + itoa(freedChunks) + " chunks freed",
				itoa(resumed) + " saw an interrupted run", mib(restored) + " restored after the final gc", "scrub healthy"}
		},
	}
}
