// Command e2e runs the end-to-end benchmark suite of issue #8 (package
// bench/e2e) against freshly built holdfast and holdfastd binaries and
// writes report.md, report.json and throughput.png into -out.
//
//	go run ./bench/cmd/e2e -size 2GiB -runs 3 -out bench/out
//	make bench-e2e BENCH_SIZE=2GiB BENCH_RUNS=3 BENCH_OUT=bench/out
//
// It exits 1 when a phase failed (a command's error, or a restore that is
// not bit-exact); a phase whose command this build lacks is reported as
// not available and does not fail the run.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"

	"github.com/holdfast-backup/holdfast/bench/dataset"
	"github.com/holdfast-backup/holdfast/bench/e2e"
)

func main() {
	size := flag.String("size", "2GiB", "data set size (bytes, or with KiB/MiB/GiB)")
	runs := flag.Int("runs", 3, "runs to take the median of")
	seed := flag.Uint64("seed", 1, "data set seed")
	out := flag.String("out", "bench/out", "directory for report.md, report.json and throughput.png")
	work := flag.String("work", "", "scratch directory, needs about 3× the size free (default: a new one under $TMPDIR, removed at the end)")
	gcWait := flag.Bool("gc-wait", true, "let the gc phase wait until the first backup is older than the server's GC grace (1 min)")
	flag.Parse()
	n, err := dataset.ParseSize(*size)
	if err != nil || *runs < 1 || flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "e2e: bad arguments: -size %v, -runs %d, %d extra arguments\n", err, *runs, flag.NArg())
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	failed, err := run(ctx, e2e.Config{Size: n, Seed: *seed, Runs: *runs, WorkDir: *work, Log: os.Stderr, WaitForGrace: *gcWait}, *out)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		os.Exit(1)
	}
	if failed {
		os.Exit(1)
	}
}

// run runs the suite, writes the report and says whether a phase failed.
func run(ctx context.Context, cfg e2e.Config, out string) (failed bool, err error) {
	if cfg.WorkDir == "" {
		dir, err := os.MkdirTemp("", "holdfast-e2e-")
		if err != nil {
			return false, err
		}
		defer os.RemoveAll(dir)
		cfg.WorkDir = dir
	}
	rep, err := e2e.Run(ctx, cfg)
	if err != nil {
		return false, err
	}
	if err := e2e.Write(out, rep); err != nil {
		return false, err
	}
	fmt.Print(rep.Markdown())
	fmt.Fprintf(os.Stderr, "wrote %s, %s and %s\n", filepath.Join(out, e2e.MarkdownFile), filepath.Join(out, e2e.JSONFile), filepath.Join(out, e2e.PlotFile))
	for _, p := range rep.Summary {
		switch p.Status {
		case e2e.StatusFailed:
			failed = true
			fmt.Fprintf(os.Stderr, "FAILED %s: %s\n", p.Name, p.Note)
		case e2e.StatusUnavailable:
			fmt.Fprintf(os.Stderr, "not measured: %s: %s\n", p.Name, p.Note)
		}
	}
	return failed, nil
}
