package e2e

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/holdfast-backup/holdfast/bench/dataset"
	"github.com/holdfast-backup/holdfast/bench/harness"
)

const (
	benchRepo     = "e2e"
	benchPassword = "issue 8 end-to-end benchmark"
	// dbShare is the database-like file's share of the data set: 1/dbShare.
	dbShare = 32
	// changeFraction is the in-place change before the third backup.
	changeFraction = 0.01
	mutateSeed     = 8
)

// Config says how to run the suite.
type Config struct {
	WorkDir string // scratch space: data set, copies, server data, restore target
	Size    int64  // data set bytes, database file included; 0 = dataset.DefaultSize
	Seed    uint64 // data set seed
	Runs    int    // runs to take medians over; 0 = 1
	// Bins are the binaries under test; built into WorkDir/bin when empty.
	Bins harness.Binaries
	Log  io.Writer // progress lines; nil = none
	// WaitForGrace makes the gc phase wait until the first backup's packs
	// are older than the server's GC grace (gcGrace), so that GC may
	// reclaim what the forgotten snapshots alone held. Without it, GC
	// runs at once and finds the dead chunks still inside the grace.
	WaitForGrace bool
}

// gcGrace is the server's --gc-grace: the shortest it accepts.
const gcGrace = time.Minute

// Run runs the suite cfg.Runs times and returns the report of all runs.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Size <= 0 {
		cfg.Size = dataset.DefaultSize
	}
	cfg.Runs = max(cfg.Runs, 1)
	if err := os.MkdirAll(cfg.WorkDir, 0o755); err != nil {
		return nil, fmt.Errorf("e2e: %w", err)
	}
	logf := func(format string, args ...any) {
		if cfg.Log != nil {
			fmt.Fprintf(cfg.Log, format+"\n", args...)
		}
	}
	if cfg.Bins.Client == "" {
		logf("building holdfast and holdfastd")
		bins, err := harness.Build(ctx, filepath.Join(cfg.WorkDir, "bin"))
		if err != nil {
			return nil, err
		}
		cfg.Bins = bins
	}
	rep := &Report{Started: time.Now().UTC(), Machine: machine(), Config: reportConfig{Size: cfg.Size, Seed: cfg.Seed, Runs: cfg.Runs}}
	// Each run works in its own directory, and all of them are removed only
	// after the last run: on ext4 without a journal, creating files skips
	// every inode deleted in the last 60–300 s, one by one, so deleting a
	// data set shortly before a restore made the restore up to three times
	// slower (measured 29.6 s instead of 9.6 s for 2 GiB).
	var runDirs []string
	defer func() {
		for _, d := range runDirs {
			os.RemoveAll(d)
		}
	}()
	for i := range cfg.Runs {
		logf("--- run %d of %d", i+1, cfg.Runs)
		dir := filepath.Join(cfg.WorkDir, fmt.Sprintf("run-%d", i+1))
		runDirs = append(runDirs, dir)
		r, err := runOnce(ctx, cfg, dir, logf)
		if err != nil {
			return nil, fmt.Errorf("e2e: run %d: %w", i+1, err)
		}
		rep.Runs = append(rep.Runs, r)
	}
	rep.Machine.LoadEnd = loadAvg()
	rep.summarize()
	return rep, nil
}

// env is the state one run's phases share.
type env struct {
	cfg       Config
	dir       string // this run's scratch directory
	logf      func(string, ...any)
	src, db   string // data set root, and the database file inside it
	target    string // restore target
	data      string // server data directory
	srv       *harness.Server
	repo      harness.Repo
	manifest  dataset.Manifest // the data set as it is now
	snapshots []string         // IDs, oldest first
	firstDone time.Time        // when the first backup committed
}

// runOnce writes a fresh data set in dir, runs every phase of the table
// once and measures the baselines: BLAKE3 first, the plain copy after the
// phases (its files are created in dir, and nothing is deleted until Run
// ends).
func runOnce(ctx context.Context, cfg Config, dir string, logf func(string, ...any)) (RunResult, error) {
	e := &env{cfg: cfg, dir: dir, logf: logf,
		src:    filepath.Join(dir, "src"),
		target: filepath.Join(dir, "restore"),
		data:   filepath.Join(dir, "server", "data"),
	}
	e.db = filepath.Join(e.src, "db", "app.db")
	if err := os.RemoveAll(dir); err != nil { // left by an interrupted run
		return RunResult{}, fmt.Errorf("e2e: %w", err)
	}
	run := RunResult{LoadStart: loadAvg()}
	if err := e.generate(); err != nil {
		return run, err
	}
	var err error
	if run.Baselines, err = e.scan(); err != nil {
		return run, err
	}
	run.Files, run.Bytes = len(e.manifest.Files), e.manifest.Bytes
	if e.srv, err = harness.StartServer(ctx, cfg.Bins, e.data, "--gc-grace", gcGrace.String()); err != nil {
		return run, err
	}
	defer e.stopServer()
	if e.repo, err = harness.SetupRepo(ctx, cfg.Bins, e.srv, benchRepo, benchPassword, filepath.Join(dir, "cache")); err != nil {
		return run, err
	}
	for _, def := range phases {
		p, err := def.run(ctx, e)
		if err != nil {
			return run, fmt.Errorf("%s: %w", def.name, err)
		}
		p.Name = def.name
		e.finish(&p, run.Baselines)
		logf("%s", p.logLine())
		run.Phases = append(run.Phases, p)
	}
	if err := e.copyBaseline(&run.Baselines); err != nil {
		return run, err
	}
	for i := range run.Phases {
		run.Phases[i].ofCopy(run.Baselines)
	}
	return run, nil
}

// generate writes the data set: the tree and the database file.
func (e *env) generate() error {
	start := time.Now()
	dbSize := dbSize(e.cfg.Size)
	if _, err := dataset.Generate(filepath.Join(e.src, "tree"), dataset.Config{Size: e.cfg.Size - dbSize, Seed: e.cfg.Seed}); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(e.db), 0o755); err != nil {
		return fmt.Errorf("e2e: %w", err)
	}
	if err := dataset.WriteDB(e.db, dbSize, e.cfg.Seed); err != nil {
		return err
	}
	e.logf("data set written in %s", time.Since(start).Round(time.Millisecond))
	return nil
}

// dbSize is the size of the database-like file in a data set of size
// bytes: 1/dbShare of it, in whole pages.
func dbSize(size int64) int64 { return size / dbShare / dataset.DBPageSize * dataset.DBPageSize }

// stopServer stops the server if it runs; scrub stops it early.
func (e *env) stopServer() error {
	if e.srv == nil {
		return nil
	}
	err := e.srv.Stop()
	e.srv = nil
	return err
}

func machine() Machine {
	m := Machine{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), Go: runtime.Version(), LoadStart: loadAvg()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			m.MemBytes = kb << 10
		}
	}
	return m
}

// loadAvg is the 1-minute load average, or "" where /proc has none: the
// machine's noise, reported beside the numbers.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}
