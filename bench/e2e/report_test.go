package e2e

import (
	"strings"
	"testing"

	"github.com/holdfast-backup/holdfast/bench/harness"
)

// TestSummarize checks that the summary takes, per phase, the median run
// by wall time among the runs that passed, keeps a phase no run could
// measure as it is, and that the Markdown shows the unavailable phase as
// such, with no numbers.
func TestSummarize(t *testing.T) {
	up := int64(7)
	mk := func(wall, b3 float64) RunResult {
		return RunResult{Bytes: 100, Baselines: Baselines{Blake3MBps: b3, CopyMBps: b3 / 2}, Phases: []Phase{
			{Name: "backup (first)", Status: StatusOK, WallS: wall, MBps: 100 / wall, BytesUploaded: &up, RepoBytes: 1 << 20},
			{Name: "gc (half forgotten)", Status: StatusUnavailable, Note: "`gc` is not available in this build"},
		}}
	}
	r := &Report{Runs: []RunResult{mk(3, 900), mk(1, 1000), mk(2, 800)}}
	r.Runs[1].Phases[0].Status = StatusFailed // a failed run does not count
	r.summarize()
	if len(r.Summary) != 2 {
		t.Fatalf("%d phases", len(r.Summary))
	}
	if p := r.Summary[0]; p.WallS != 3 || p.Runs != 2 || !strings.Contains(p.Note, "median of 2 runs") {
		t.Errorf("median phase %+v, want the 3 s run of the two that passed", p)
	}
	if p := r.Summary[1]; p.Status != StatusUnavailable || p.Runs != 0 {
		t.Errorf("unavailable phase %+v", p)
	}
	if r.Baselines.Blake3MBps != 900 || r.Baselines.CopyMBps != 450 {
		t.Errorf("baselines %+v, want the medians 900 and 450", r.Baselines)
	}
	md := r.Markdown()
	if !strings.Contains(md, "| gc (half forgotten) | **not available in this build** | – | – |") {
		t.Errorf("Markdown does not show gc as unavailable:\n%s", md)
	}
	if !strings.Contains(md, "| backup (first) | 3.00 | 33 |") {
		t.Errorf("Markdown lacks the median backup row:\n%s", md)
	}
}

// TestFailed checks how a command's non-zero exit is classified: missing
// from this build (cobra's "unknown command") or failed, with its message.
func TestFailed(t *testing.T) {
	p := failed("gc", harness.Result{Code: 1, Stderr: "holdfast: unknown command \"gc\" for \"holdfast\"\n\nDid you mean this?\n"})
	if p.Status != StatusUnavailable || p.WallS != 0 {
		t.Errorf("unknown command: %+v", p)
	}
	p = failed("gc", harness.Result{Code: 4, Stderr: "holdfast: gc: permission denied\nmore\n"})
	if p.Status != StatusFailed || p.Note != "`gc` exit 4: holdfast: gc: permission denied" {
		t.Errorf("failure: %+v", p)
	}
	p = failed("forget", harness.Result{Code: 1, Stderr: "holdfast: unknown command \"gc\" for \"holdfast\""})
	if p.Status != StatusFailed {
		t.Errorf("another command's name counted as this one missing: %+v", p)
	}
}
