package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/holdfast-backup/holdfast/bench/dataset"
	"github.com/holdfast-backup/holdfast/bench/harness"
	"github.com/holdfast-backup/holdfast/repo"
)

// phaseDef is one row of the suite: a name and a function that runs the
// phase's command(s) and measures them. It returns an error only when the
// run cannot go on (the benchmark's own failure); a command that fails or
// is missing is a Phase with that status.
type phaseDef struct {
	name string
	run  func(ctx context.Context, e *env) (Phase, error)
}

// phases run in this order; each relies on the state the ones before left.
var phases = []phaseDef{
	{"backup (first)", func(ctx context.Context, e *env) (Phase, error) { return e.backup(ctx) }},
	{"backup (no change)", func(ctx context.Context, e *env) (Phase, error) { return e.backup(ctx) }},
	{"backup (1% changed)", backupChanged},
	{"restore", restore},
	{"dump > /dev/null", dump},
	{"gc (half forgotten)", gc},
	{"scrub (offline)", scrub},
}

// command runs one client command as a phase over bytes of the data set,
// with the server's peak reset first. stdout nil captures the output.
func (e *env) command(ctx context.Context, c harness.Client, stdout *os.File, args ...string) (Phase, harness.Result, error) {
	if err := e.srv.ResetPeak(); err != nil {
		return Phase{}, harness.Result{}, fmt.Errorf("reset server peak: %w", err)
	}
	var res harness.Result
	var err error
	if stdout != nil {
		res, err = c.RunTo(ctx, stdout, args...)
	} else {
		res, err = c.Run(ctx, args...)
	}
	if err != nil {
		return Phase{}, res, err
	}
	p := Phase{Status: StatusOK, WallS: res.Duration.Seconds(), Bytes: e.manifest.Bytes, BytesOf: ofDataSet,
		ClientRSS: res.PeakRSS, ServerRSS: e.srv.Peak()}
	if res.Code != 0 {
		p = failed(args[0], res)
	}
	return p, res, nil
}

// failed is the phase of a command that exited non-zero: no numbers, and
// "not available" when this build of the binary lacks the command.
func failed(name string, res harness.Result) Phase {
	msg := firstLine(res.Stderr)
	if strings.Contains(res.Stderr, fmt.Sprintf("unknown command %q", name)) {
		return Phase{Status: StatusUnavailable, Note: fmt.Sprintf("`%s` is not available in this build", name)}
	}
	return Phase{Status: StatusFailed, Note: fmt.Sprintf("`%s` exit %d: %s", name, res.Code, msg)}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// backup backs up the data set and records the snapshot.
func (e *env) backup(ctx context.Context) (Phase, error) {
	p, res, err := e.command(ctx, e.repo.Backup, nil, "backup", e.src, "--json")
	if err != nil || p.Status != StatusOK {
		return p, err
	}
	s, err := harness.ParseSummary(res.Stdout)
	if err != nil {
		return p, err
	}
	p.BytesUploaded = &s.BytesUploaded
	if len(e.snapshots) == 0 {
		e.firstDone = time.Now()
	}
	e.snapshots = append(e.snapshots, s.SnapshotID)
	return p, nil
}

// backupChanged changes 1% of the data set in place (untimed: large
// regions of the tree, scattered pages of the database file), then backs
// it up.
func backupChanged(ctx context.Context, e *env) (Phase, error) {
	tree, err := dataset.Mutate(filepath.Join(e.src, "tree"), changeFraction, mutateSeed)
	if err != nil {
		return Phase{}, err
	}
	db, err := dataset.MutateDB(e.db, changeFraction, mutateSeed)
	if err != nil {
		return Phase{}, err
	}
	if e.manifest, err = dataset.Scan(e.src); err != nil {
		return Phase{}, err
	}
	p, err := e.backup(ctx)
	p.Note = joinNote(fmt.Sprintf("changed in place: %s in %d regions of %d tree files and %d pages of the database file",
		size(tree.Bytes+db.Bytes), tree.Regions, tree.Files, db.Regions), p.Note)
	return p, err
}

// restore restores the latest snapshot into a new directory and checks it
// bit for bit against the data set. The restored tree stays until the run's
// directory is removed: deleting it here would slow the file creations of
// the copy baseline that follows (see Run).
func restore(ctx context.Context, e *env) (Phase, error) {
	p, _, err := e.command(ctx, e.repo.Restore, nil, "restore", "latest", "--target", e.target)
	if err != nil || p.Status != StatusOK {
		return p, err
	}
	if verr := dataset.Verify(e.target, e.manifest); verr != nil {
		p.Status, p.Note = StatusFailed, "restore differs from the data set: "+verr.Error()
	} else {
		p.Verified = true
		p.Note = "bit-exact"
	}
	return p, nil
}

// dump writes the latest snapshot as a tar stream straight into /dev/null.
func dump(ctx context.Context, e *env) (Phase, error) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return Phase{}, err
	}
	defer null.Close()
	p, _, err := e.command(ctx, e.repo.Restore, null, "dump", "latest")
	return p, err
}

// gc forgets the older half of the snapshots (rounded up, so the latest
// is always kept and, of three, the first two go), then times `gc --json`
// over the repository's stores.
func gc(ctx context.Context, e *env) (Phase, error) {
	n := (len(e.snapshots) + 1) / 2
	forget, _, err := e.command(ctx, e.repo.Admin, nil, append([]string{"forget"}, e.snapshots[:n]...)...)
	if err != nil || forget.Status != StatusOK {
		return forget, err
	}
	before, _, err := repoSize(e.data)
	if err != nil {
		return Phase{}, err
	}
	if wait := time.Until(e.firstDone.Add(gcGrace + 5*time.Second)); e.cfg.WaitForGrace && wait > 0 {
		e.logf("gc: waiting %s for the first backup's packs to pass the server's GC grace (%s)", wait.Round(time.Second), gcGrace)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return Phase{}, ctx.Err()
		}
	}
	p, res, err := e.command(ctx, e.repo.Admin, nil, "gc", "--json")
	if err != nil || p.Status != StatusOK {
		return p, err
	}
	p.Bytes, p.BytesOf = before, ofRepo
	p.Detail = lastJSON(res.Stdout)
	after, _, err := repoSize(e.data)
	if err != nil {
		return Phase{}, err
	}
	p.Note = fmt.Sprintf("forgot %d of %d snapshots in %.2f s; stores %d → %d bytes", n, len(e.snapshots), forget.WallS, before, after)
	return p, nil
}

// scrub stops the server (scrub holds the data directory) and runs
// `holdfastd scrub --json` over every shard.
func scrub(ctx context.Context, e *env) (Phase, error) {
	if err := e.stopServer(); err != nil {
		return Phase{}, fmt.Errorf("stop server: %w", err)
	}
	stores, _, err := repoSize(e.data)
	if err != nil {
		return Phase{}, err
	}
	res, err := harness.Exec(ctx, harness.Proc{Bin: e.cfg.Bins.Server, Args: []string{"scrub", "--data", e.data, "--json"}})
	if err != nil {
		return Phase{}, err
	}
	if res.Code != 0 {
		return failed("scrub", res), nil
	}
	p := Phase{Status: StatusOK, WallS: res.Duration.Seconds(), Bytes: stores, BytesOf: ofRepo, ServerRSS: res.PeakRSS, Detail: lastJSON(res.Stdout)}
	var rep repo.ScrubReport
	if err := json.Unmarshal(p.Detail, &rep); err != nil {
		return Phase{Status: StatusFailed, Note: "scrub report: " + err.Error()}, nil
	}
	p.Note = fmt.Sprintf("%d packs, %d shards good, %d repaired, %d packs lost", rep.Packs, rep.ShardsGood, rep.ShardsRepair, rep.PacksLost)
	if !rep.Healthy() || rep.ShardsGood == 0 {
		p.Status = StatusFailed
	}
	return p, nil
}

// lastJSON returns the last line of out if it is JSON, else nil.
func lastJSON(out string) json.RawMessage {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	b := []byte(lines[len(lines)-1])
	if !json.Valid(b) {
		return nil
	}
	return b
}
