package chaos

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"testing"
	"time"
)

// serverKillOp is a client operation during which the server is SIGKILLed.
// Killing the server during another operation (gc, replication) is one more
// function returning a serverKillOp and one more test calling
// runServerKill with it.
type serverKillOp struct {
	name string
	// args are extra `holdfastd serve` flags (e.g. --gc-grace).
	args []string
	// prepare, if set, runs once after the first backups, before the clean
	// run that times the operation (e.g. to age data past a grace).
	prepare func(f *fixture)
	// victim, if set, picks the server to kill in a round (default: the
	// fixture's); it must be running.
	victim func(f *fixture, round int) *daemon
	// restoreAll restores every committed snapshot after every round, not
	// only those at risk: the operation may touch any of them (gc).
	restoreAll bool
	// final, if set, runs after the rounds and the last full check, with
	// the server up; it returns more "verified" labels for the summary.
	final func(f *fixture, s *tally) []string
	// begin starts the operation with the server up.
	begin func(f *fixture) *running
	// after runs once the server is back, with the operation's outcome: it
	// records what the client saw committed and checks what the operation
	// must leave behind. It returns the bytes it verified.
	after func(f *fixture, s *tally, op *running, res result) int64
}

// running is a client process started in the background.
type running struct {
	cmd            *exec.Cmd
	stdout, stderr *bytes.Buffer
	cancel         context.CancelFunc
	exited         chan struct{} // closed when the process has ended
	err            error         // of Wait, once exited
	took           time.Duration // from start to exit, once exited
	want           manifest      // backup: the tree backed up
	snap           snap          // restore: the snapshot restored
	target         string        // restore: the target directory
}

// start runs the client in the background (at most 5 minutes).
func (c *client) start(args ...string) *running {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	cmd, stdout, stderr := c.command(ctx, args...)
	began := time.Now()
	if err := cmd.Start(); err != nil {
		cancel()
		c.t.Fatal(err)
	}
	r := &running{cmd: cmd, stdout: stdout, stderr: stderr, cancel: cancel, exited: make(chan struct{})}
	go func() {
		r.err = cmd.Wait()
		r.took = time.Since(began)
		close(r.exited)
	}()
	return r
}

// wait waits for the process and returns its result.
func (r *running) wait(t *testing.T) result {
	defer r.cancel()
	<-r.exited
	return finish(t, r.err, r.stdout, r.stderr)
}

// backupOp backs up the source, changed a little every round.
func backupOp() serverKillOp {
	return serverKillOp{
		name: "server-kill-backup",
		begin: func(f *fixture) *running {
			f.src.mutate()
			want, _, err := scan(f.src.dir)
			if err != nil {
				f.t.Fatal(err)
			}
			op := f.backup.start("backup", f.src.dir, "--host", "chaos")
			op.want = want
			return op
		},
		after: func(f *fixture, s *tally, op *running, res result) int64 {
			f.record(res, op.want)
			return 0
		},
	}
}

// restoreOp restores the committed snapshots in turn. An interrupted
// restore is rerun into the same target, which must then be bit-exact; a
// restore that reported success must be bit-exact as it is.
func restoreOp() serverKillOp {
	next := 0
	return serverKillOp{
		name: "server-kill-restore",
		begin: func(f *fixture) *running {
			sn := f.committed[next%len(f.committed)]
			next++
			target, err := os.MkdirTemp(f.t.TempDir(), "restore")
			if err != nil {
				f.t.Fatal(err)
			}
			op := f.restore.start("restore", sn.id, "--target", target)
			op.snap, op.target = sn, target
			return op
		},
		after: func(f *fixture, s *tally, op *running, res result) int64 {
			defer os.RemoveAll(op.target)
			if res.code != 0 {
				if r := f.restore.run("restore", op.snap.id, "--target", op.target); r.code != 0 {
					s.fail("restore rerun into the interrupted target: %v", r)
					return 0
				}
			}
			got, n, err := scan(f.restored(op.target))
			if err != nil {
				s.fail("restore %s: %v", op.snap.id[:12], err)
			} else if d := op.snap.want.diff(got); d != "" {
				s.fail("restore %s (exit %d, then rerun) is not bit-exact: %s", op.snap.id[:12], res.code, d)
			}
			return n
		},
	}
}

func TestChaosServerKillBackup(t *testing.T) {
	skipShort(t)
	runServerKill(t, backupOp(), roundsOf(4, 50))
}

func TestChaosServerKillRestore(t *testing.T) {
	skipShort(t)
	runServerKill(t, restoreOp(), roundsOf(3, 50))
}

// runServerKill runs op once cleanly to time it, then n rounds of: start
// op, SIGKILL the server at a random point of op's run time, restart the
// server, let op account for its outcome, and check that every snapshot the
// client saw committed is still listed, that verify --read-data passes, and
// that the snapshots at risk (those of this round and one older) restore
// bit-exact. The first kill points are timed by a clean run. At the end every committed snapshot is restored.
func runServerKill(t *testing.T, op serverKillOp, n int) {
	s := newTally(t, op.name)
	rng := newRand(t)
	files, size := killFiles()
	f := newFixture(t, nil, files, size, op.args...)
	for range 2 {
		if _, r := f.takeBackup(f.backup); r.code != 0 {
			t.Fatalf("backup before the kills: %v", r)
		}
		f.src.mutate()
	}
	if op.prepare != nil {
		op.prepare(f)
	}
	// A clean run measures how long the operation's process takes (not
	// begin's own work: gc and replicate rounds back up first).
	o := op.begin(f)
	var verified int64
	res := o.wait(t)
	window := o.took
	verified += op.after(f, s, o, res)

	interrupted := 0
	for round := range n {
		s.rounds++
		before := len(f.committed)
		o := op.begin(f)
		victim := f.d
		if op.victim != nil {
			victim = op.victim(f, round)
		}
		w, kp := window, killPoint(rng, window, round)
		time.Sleep(kp)
		victim.kill9()
		res := o.wait(t)
		if res.code != 0 {
			interrupted++
			if kp >= window {
				// Still running past the window: it runs longer now (a
				// gc resuming an interrupted run, with more to delete
				// than the clean run had). Double it until a run
				// finishes before its kill, so the late kill points
				// reach the operation's end.
				window = 2 * kp
			}
		} else {
			// It did all it needed of the server before the kill: aim
			// the next kills before that point. A process that outlived
			// the kill was only finishing on its own (writing, syncing,
			// exiting), and later runs are faster than the clean one
			// (warm caches), so the clean run's time overstates the part
			// a kill can cut; on a loaded machine by half.
			window = min(o.took, kp)
		}
		victim.start()
		verified += op.after(f, s, o, res)
		var atRisk []snap // nil: checkAll restores all (op.restoreAll)
		if !op.restoreAll {
			atRisk = f.committed[before:]
			if before > 0 {
				atRisk = append(atRisk[:len(atRisk):len(atRisk)], f.committed[rng.IntN(before)])
			}
		}
		verified += f.checkAll(s, atRisk)
		t.Logf("round %d: killed at %s of a %s window; the op exited %d; %d committed", round, kp.Round(time.Millisecond), w.Round(time.Millisecond), res.code, len(f.committed))
	}
	verified += f.checkAll(s, nil)
	var more []string
	if op.final != nil {
		more = op.final(f, s)
	}
	if interrupted == 0 && n >= 3 {
		s.fail("the kill never interrupted the operation in %d rounds: the kill points test nothing", n)
	}
	s.report(append([]string{itoa(len(f.committed)) + " snapshots", itoa(interrupted) + " interrupted", mib(verified) + " restored"}, more...)...)
}

// newRand returns a random source seeded from -chaos.seed or the clock; the
// seed is logged so a failing run can be replayed.
func newRand(t *testing.T) *rand.Rand {
	seed := *seedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("random seed %d (replay with -chaos.seed=%d)", seed, seed)
	return rand.New(rand.NewPCG(seed, seed>>1))
}

// killFiles sizes the source of the kill scenarios: about 8 MiB in the
// short form (a restore still takes long enough to be cut), 20 MiB in the
// long one.
func killFiles() (files int, size int64) {
	if long() {
		return 20, 1 << 20
	}
	return 12, 640 << 10
}

// killPoint is when to kill, after the start of an operation whose clean
// run took window: two rounds in three at a random point well inside it,
// the third around its end, so some kills land just after a commit was
// acknowledged (the snapshot most at risk) or while the client finishes.
func killPoint(rng *rand.Rand, window time.Duration, round int) time.Duration {
	w := int64(window)
	if round%3 == 2 {
		return time.Duration(w*8/10 + rng.Int64N(w*7/10+1))
	}
	return time.Duration(rng.Int64N(w*8/10 + 1))
}
