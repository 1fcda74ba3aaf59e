package chaos

import (
	"testing"
)

// TestChaosServerKillReplication SIGKILLs, alternately, the source and the
// target server during `holdfast admin replicate`. Every round backs up
// once more on the source and replicates; after the restart the target
// lists only snapshots of the source, each of which restores bit-exact
// (no half-committed snapshot), verify --read-data passes there, and the
// next replicate completes and brings every source snapshot over. At the
// end every source snapshot restores bit-exact from the replica with a
// restore token of the replica.
func TestChaosServerKillReplication(t *testing.T) {
	skipShort(t)
	runServerKill(t, replicateOp(), roundsOf(4, 50))
}

// replica is the target of the replication scenario: a second real server
// with repository chaos created --replica.
type replica struct {
	*fixture
	replicateToken string
	checked        map[string]bool // snapshots already restored from it
}

// newReplica starts the target server and creates the replica repository
// and its tokens. It shares the source's tree so restores compare with it.
func newReplica(src *fixture) *replica {
	f := newServer(src.t, nil)
	f.src = src.src
	f.server = f.client(f.d.adminToken())
	f.want(f.server.run("admin", "repo", "create", chaosRepo, "--replica"), 0, "admin repo create --replica")
	f.admin, f.restore = f.client(f.token("admin", "")), f.client(f.token("restore", ""))
	return &replica{fixture: f, replicateToken: f.token("replicate", ""), checked: map[string]bool{}}
}

// replicateOp backs up once more on the source and replicates to the
// replica.
func replicateOp() serverKillOp {
	var tgt *replica
	passes := 0
	start := func(f *fixture) *running {
		return f.admin.start("admin", "replicate", "--to", tgt.d.url, "--to-token", tgt.replicateToken)
	}
	return serverKillOp{
		name: "server-kill-replication",
		// A first pass brings the first snapshots over, so the clean run
		// that times the operation replicates one snapshot, as rounds do.
		prepare: func(f *fixture) {
			tgt = newReplica(f)
			f.want(start(f).wait(f.t), 0, "first replicate")
		},
		victim: func(f *fixture, round int) *daemon {
			if round%2 == 0 {
				return f.d
			}
			return tgt.d
		},
		begin: func(f *fixture) *running {
			f.src.mutate()
			if _, r := f.takeBackup(f.backup); r.code != 0 {
				f.t.Fatalf("backup before replicating: %v", r)
			}
			return start(f)
		},
		after: func(f *fixture, s *tally, op *running, res result) int64 {
			n := tgt.checkHalfCommitted(s, f.committed)
			// The next pass must complete whatever the kill cut.
			if r := start(f).wait(f.t); r.code != 0 {
				s.fail("replicate after the restart: %v", r)
				return n
			}
			passes++
			ids, err := tgt.listed()
			if err != nil {
				s.fail("replica: %v", err)
				return n
			}
			for _, c := range f.committed {
				if !ids[c.id] {
					s.fail("snapshot %s is not on the replica after a completed replicate", c.id[:12])
				}
			}
			return n + tgt.checkHalfCommitted(s, f.committed)
		},
		final: func(f *fixture, s *tally) []string {
			// Every source snapshot, from the replica, with its restore token.
			tgt.committed = f.committed
			n := tgt.checkAll(s, nil)
			return []string{itoa(passes) + " follow-up passes completed", mib(n) + " restored from the replica"}
		},
	}
}

// checkHalfCommitted checks that the replica lists only snapshots the
// source committed, that verify --read-data passes there, and that each
// snapshot it lists for the first time restores bit-exact. It returns the
// bytes restored.
func (r *replica) checkHalfCommitted(s *tally, committed []snap) int64 {
	ids, err := r.listed()
	if err != nil {
		s.fail("replica: %v", err)
		return 0
	}
	bySrc := map[string]snap{}
	for _, c := range committed {
		bySrc[c.id] = c
	}
	if err := r.verifyReadData(); err != nil {
		s.fail("replica: %v", err)
	}
	var total int64
	for id := range ids {
		c, ok := bySrc[id]
		if !ok {
			s.fail("replica lists %s, which the source never committed", id[:12])
			continue
		}
		if r.checked[id] {
			continue
		}
		n, err := r.restoreCheck(c)
		if err != nil {
			s.fail("replica: %v", err)
			continue
		}
		r.checked[id] = true
		total += n
	}
	return total
}
