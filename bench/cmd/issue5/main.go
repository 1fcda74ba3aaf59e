// Command issue5 runs the issue #5 scenario (see package bench/issue5)
// against freshly built holdfast and holdfastd binaries and prints the
// numbers, medians over the runs, and the issue's checks.
//
//	go run ./bench/cmd/issue5 -size 2GiB -runs 3 -work /tmp/issue5
//
// It exits 1 when a check fails in the median run.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/holdfast-backup/holdfast/bench/dataset"
	"github.com/holdfast-backup/holdfast/bench/harness"
	"github.com/holdfast-backup/holdfast/bench/issue5"
)

func main() {
	size := flag.String("size", "2GiB", "data set size (bytes, or with KiB/MiB/GiB)")
	runs := flag.Int("runs", 3, "how many times to run the scenario")
	work := flag.String("work", "", "scratch directory (default: a new one under $TMPDIR, removed at the end)")
	profile := flag.String("profile", "", "write `perf record` profiles of each phase into this directory")
	seed := flag.Uint64("seed", 1, "data set seed")
	compression := flag.String("compression", "", "the backups' --compression: zstd, s2 or none (default: the client's)")
	flag.Parse()
	n, err := parseSize(*size)
	if err != nil {
		fmt.Fprintf(os.Stderr, "issue5: -size: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	met, err := run(ctx, options{size: n, seed: *seed, runs: *runs, work: *work, profile: *profile, compression: *compression})
	if err != nil {
		fmt.Fprintf(os.Stderr, "issue5: %v\n", err)
		os.Exit(1)
	}
	if !met {
		os.Exit(1) // the report says which target was missed
	}
}

// options are the command's flags.
type options struct {
	size                       int64
	seed                       uint64
	runs                       int
	work, profile, compression string
}

// run runs the scenario and reports whether the median run met every
// target of the issue.
func run(ctx context.Context, o options) (bool, error) {
	work, profile := o.work, o.profile
	if work == "" {
		dir, err := os.MkdirTemp("", "issue5-")
		if err != nil {
			return false, err
		}
		defer os.RemoveAll(dir)
		work = dir
	}
	bins, err := harness.Build(ctx, filepath.Join(work, "bin"))
	if err != nil {
		return false, err
	}
	var results []*issue5.Result
	// One directory per run, all removed at the end: deleting a run's files
	// just before the next run's restore would slow that restore (see
	// issue5.Config.WorkDir).
	var runDirs []string
	defer func() {
		for _, d := range runDirs {
			os.RemoveAll(d)
		}
	}()
	for i := range o.runs {
		fmt.Fprintf(os.Stderr, "--- run %d of %d\n", i+1, o.runs)
		prof := ""
		if profile != "" {
			prof = filepath.Join(profile, fmt.Sprintf("run%d", i+1))
		}
		dir := filepath.Join(work, fmt.Sprintf("run%d", i+1))
		runDirs = append(runDirs, dir)
		res, err := issue5.Run(ctx, issue5.Config{
			WorkDir: dir, Bins: bins, Profile: prof, Log: os.Stderr,
			Dataset:     dataset.Config{Size: o.size, Seed: o.seed},
			Compression: o.compression,
		})
		if err != nil {
			if tail := issue5.ServerLogTail(dir, 40); tail != "" {
				fmt.Fprintf(os.Stderr, "--- the end of run %d's server log (the run directory is removed):\n%s", i+1, tail)
			}
			return false, err
		}
		results = append(results, res)
	}
	issue5.Report(os.Stdout, results)
	for _, c := range issue5.MedianRun(results).Checks() {
		if !c.OK {
			return false, nil
		}
	}
	return true, nil
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = rest, u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("%q is not a size", s)
	}
	return int64(v * float64(mult)), nil
}
