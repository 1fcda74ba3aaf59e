package chaos

import (
	"encoding/json"
	"fmt"
	"syscall"
	"testing"
	"time"
)

// TestChaosClientKillBackup SIGKILLs `holdfast backup` at random points
// (uploading, committing, writing its cache). Each time a rerun must
// succeed and restore bit-exact; at the end every snapshot lists and
// restores, verify --read-data passes, and an offline scrub with the
// server stopped finds the stores and index consistent: no lost or damaged
// shard and no index entry pointing at nothing, so nothing a snapshot
// references is an orphan of a killed upload.
func TestChaosClientKillBackup(t *testing.T) {
	skipShort(t)
	s := newTally(t, "client-kill-backup")
	rng := newRand(t)
	files, size := killFiles()
	f := newFixture(t, nil, files, size)
	f.src.mutate()
	began := time.Now()
	if _, r := f.takeBackup(f.backup); r.code != 0 {
		t.Fatalf("first backup: %v", r)
	}
	window := time.Since(began)

	var verified int64
	interrupted := 0
	for round := range roundsOf(4, 50) {
		s.rounds++
		f.src.mutate()
		want, _, err := scan(f.src.dir)
		if err != nil {
			t.Fatal(err)
		}
		op := f.backup.start("backup", f.src.dir, "--host", "chaos")
		time.Sleep(killPoint(rng, window, round))
		op.cmd.Process.Signal(syscall.SIGKILL)
		res := op.wait(t)
		if res.code != 0 {
			interrupted++
		} else {
			window = (window + op.took) / 2 // see runServerKill
		}
		f.record(res, want)
		// The rerun (same cache, same source) must succeed.
		sn, r := f.takeBackup(f.backup)
		if r.code != 0 {
			s.fail("backup after a killed backup: %v", r)
			continue
		}
		n, err := f.restoreCheck(sn)
		if err != nil {
			s.fail("%v", err)
		}
		verified += n
	}
	verified += f.checkAll(s, nil)
	f.d.stop()
	if err := f.scrubClean(false); err != nil {
		s.fail("%v", err)
	}
	if interrupted == 0 {
		s.fail("the kill never interrupted a backup: the kill points test nothing")
	}
	s.report(itoa(len(f.committed))+" snapshots", itoa(interrupted)+" interrupted", mib(verified)+" restored", "scrub healthy")
}

// scrubReport is the JSON report of `holdfastd scrub --json`.
type scrubReport struct {
	Packs         int `json:"packs"`
	ShardsMissing int `json:"shards_missing"`
	ShardsCorrupt int `json:"shards_corrupt"`
	ShardsRepair  int `json:"shards_repaired"`
	PacksLost     int `json:"packs_lost"`
	MetaRepaired  int `json:"meta_copies_repaired"`
	MetaLost      int `json:"meta_objects_lost"`
	Dangling      int `json:"dangling_chunk_entries"`
}

// scrub runs an offline scrub (the server must be stopped).
func (f *fixture) scrub(repair bool) (scrubReport, int, error) {
	args := []string{"scrub", "--json"}
	if !repair {
		args = append(args, "--no-repair")
	}
	out, code := f.d.offline(args...)
	var rep scrubReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		return rep, code, fmt.Errorf("scrub: report %q: %v", out, err)
	}
	return rep, code, nil
}

// scrubClean runs a scrub and fails unless it found nothing at all.
func (f *fixture) scrubClean(repair bool) error {
	rep, code, err := f.scrub(repair)
	if err != nil {
		return err
	}
	if code != 0 || rep.Packs == 0 || rep.ShardsMissing+rep.ShardsCorrupt+rep.ShardsRepair+rep.PacksLost+
		rep.MetaRepaired+rep.MetaLost+rep.Dangling != 0 {
		return fmt.Errorf("scrub (repair %v): exit %d, %+v", repair, code, rep)
	}
	return nil
}
