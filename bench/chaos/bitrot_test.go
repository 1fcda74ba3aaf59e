package chaos

import (
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestChaosBitRot flips random bytes in at most m (2) shards of every pack
// across the six stores, while the server runs. Every committed snapshot
// must still restore bit-exact; then, with the server stopped, scrub must
// find and repair exactly the rotted shards, a second scrub must find
// nothing, and verify --read-data must pass after a restart.
func TestChaosBitRot(t *testing.T) {
	skipShort(t)
	s := newTally(t, "bitrot")
	rng := newRand(t)
	f := newFixture(t, nil, 10, 512<<10)
	var restored int64
	rotted := 0
	for range roundsOf(2, 10) {
		s.rounds++
		f.src.mutate()
		if _, r := f.takeBackup(f.backup); r.code != 0 {
			t.Fatalf("backup: %v", r)
		}
		n := rot(t, rng, f.stores, 2)
		rotted += n
		restored += f.checkAll(s, nil)
		f.d.stop()
		rep, code, err := f.scrub(true)
		switch {
		case err != nil:
			s.fail("%v", err)
		case code != 0 || rep.ShardsCorrupt != n || rep.ShardsRepair != n || rep.PacksLost != 0:
			s.fail("scrub after rotting %d shards: exit %d, %+v", n, code, rep)
		}
		if err := f.scrubClean(false); err != nil {
			s.fail("second scrub: %v", err)
		}
		f.d.start()
		if err := f.verifyReadData(); err != nil {
			s.fail("after scrub: %v", err)
		}
	}
	s.report(itoa(rotted)+" shards rotted and repaired", itoa(len(f.committed))+" snapshots", mib(restored)+" restored")
}

// rot flips 1 to 3 random bytes in each of 1 to maxShards randomly chosen
// shards of every pack in stores, and returns how many shards it rotted.
func rot(t *testing.T, rng *rand.Rand, stores []string, maxShards int) int {
	packs := map[string][]string{} // pack ID -> its shard files
	for _, st := range stores {
		err := filepath.WalkDir(st, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.Contains(p, "/packs/") {
				return err
			}
			id, _, ok := strings.Cut(filepath.Base(p), ".")
			if ok {
				packs[id] = append(packs[id], p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(packs) == 0 {
		t.Fatal("no pack shards found in the stores")
	}
	n := 0
	for _, shards := range packs {
		rng.Shuffle(len(shards), func(i, j int) { shards[i], shards[j] = shards[j], shards[i] })
		for _, p := range shards[:1+rng.IntN(maxShards)] {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			for range 1 + rng.IntN(3) {
				b[rng.IntN(len(b))] ^= byte(1 + rng.IntN(255))
			}
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	return n
}
