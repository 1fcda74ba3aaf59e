package e2e

import (
	"fmt"
	"strings"
)

// Markdown renders the summary as a section: setup, baselines, one table
// row per phase, and the notes.
func (r *Report) Markdown() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	m := r.Machine
	w("## End-to-end benchmark (issue #8)\n\n")
	if len(r.Runs) > 0 {
		run := r.Runs[0]
		w("- Data set: %d files, %s (seed %d): source-like tree, half-compressible and incompressible files, duplicates, and a %s database-like file; %.0f%% changed in place before the third backup.\n",
			run.Files, size(run.Bytes), r.Config.Seed, size(dbSize(r.Config.Size)), changeFraction*100)
	}
	w("- Machine: %s, %d CPUs, %s RAM, %s/%s, %s; load average %s at start, %s at end.\n", orDash(m.CPU), m.CPUs, size(m.MemBytes), m.OS, m.Arch, m.Go, orDash(m.LoadStart), orDash(m.LoadEnd))
	w("- Runs: %d (per phase the median run by wall time), started %s. Client and server on the same machine, over loopback, one local store, default shards.\n",
		len(r.Runs), r.Started.Format("2006-01-02 15:04 UTC"))
	w("- Reproduce: `make bench-e2e BENCH_SIZE=%s BENCH_RUNS=%d` (seed %d); the report is written to `bench/out/`.\n", sizeArg(r.Config.Size), r.Config.Runs, r.Config.Seed)
	w("- Baselines on the same bytes, same run: `blake3.Sum256` on one core **%.0f MB/s**; plain file copy (one goroutine, no fsync) **%.0f MB/s**.\n\n",
		r.Baselines.Blake3MBps, r.Baselines.CopyMBps)
	w("| phase | wall s | MB/s | × BLAKE3 | × copy | uploaded | stores on disk | client peak RSS | server peak RSS |\n")
	w("|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, p := range r.Summary {
		if p.Status != StatusOK {
			w("| %s | **%s** | – | – | – | – | %s | – | – |\n", p.Name, p.Status, sizeOrDash(p.RepoBytes))
			continue
		}
		up := "–"
		if p.BytesUploaded != nil {
			up = size(*p.BytesUploaded)
		}
		w("| %s | %.2f | %.0f | %.3f | %.3f | %s | %s | %s | %s |\n", p.Name, p.WallS, p.MBps, p.OfBlake3, p.OfCopy, up,
			sizeOrDash(p.RepoBytes), sizeOrDash(p.ClientRSS), sizeOrDash(p.ServerRSS))
	}
	w("\nMB/s is 10⁶ bytes per second of the data set (%s), except for gc and scrub: of the repository's stores before the phase. "+
		"“× BLAKE3” and “× copy” divide it by the baselines measured in the same run as the row (the list above gives their medians over the runs). Stores on disk: allocated blocks of the local stores after the phase (index not included). "+
		"Scrub runs offline, so its peak RSS is that of `holdfastd scrub`.\n\n", size(r.dataBytes()))
	for _, p := range r.Summary {
		if p.Note != "" {
			w("- %s: %s\n", p.Name, p.Note)
		}
	}
	return b.String()
}

func (r *Report) dataBytes() int64 {
	if len(r.Runs) == 0 {
		return 0
	}
	return r.Runs[0].Bytes
}

// logLine is the progress line of a finished phase.
func (p Phase) logLine() string {
	if p.Status != StatusOK {
		return fmt.Sprintf("%-20s %s: %s", p.Name, p.Status, p.Note)
	}
	up := ""
	if p.BytesUploaded != nil {
		up = "  uploaded " + size(*p.BytesUploaded)
	}
	return fmt.Sprintf("%-20s %8.2f s %8.0f MB/s  client %s  server %s  stores %s%s", p.Name, p.WallS, p.MBps,
		size(p.ClientRSS), size(p.ServerRSS), size(p.RepoBytes), up)
}

// sizeArg formats n as bench/cmd/e2e's -size takes it.
func sizeArg(n int64) string {
	switch {
	case n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprint(n)
}

// size formats bytes in binary units.
func size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func sizeOrDash(n int64) string {
	if n <= 0 {
		return "–"
	}
	return size(n)
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
