package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Phase statuses. Only StatusOK phases carry numbers.
const (
	StatusOK          = "ok"
	StatusUnavailable = "not available in this build"
	StatusFailed      = "failed"
)

// What a phase's Bytes (and so its MB/s) count.
const (
	ofDataSet = "data set"
	ofRepo    = "repository stores"
)

// Phase is one measured phase of one run.
type Phase struct {
	Name    string  `json:"name"`
	Status  string  `json:"status"`
	Note    string  `json:"note,omitempty"`
	WallS   float64 `json:"wall_s"`
	Bytes   int64   `json:"bytes"`              // what MB/s counts
	BytesOf string  `json:"bytes_of,omitempty"` // ofDataSet or ofRepo
	MBps    float64 `json:"mb_per_s"`
	// OfBlake3 and OfCopy are MBps as a fraction of the run's baselines.
	OfBlake3      float64         `json:"of_blake3"`
	OfCopy        float64         `json:"of_copy"`
	BytesUploaded *int64          `json:"bytes_uploaded"` // backups only
	RepoBytes     int64           `json:"repo_bytes"`     // local stores on disk after the phase
	IndexBytes    int64           `json:"index_bytes"`    // the server's index on disk after the phase
	ClientRSS     int64           `json:"client_peak_rss"`
	ServerRSS     int64           `json:"server_peak_rss"`
	Verified      bool            `json:"verified,omitempty"` // restore: bit-exact
	Detail        json.RawMessage `json:"detail,omitempty"`   // the command's JSON report
	Runs          int             `json:"runs,omitempty"`     // summary: runs with status ok
}

// RunResult is one run of the suite.
type RunResult struct {
	LoadStart string    `json:"load_start"`
	Files     int       `json:"files"`
	Bytes     int64     `json:"bytes"`
	Baselines Baselines `json:"baselines"`
	Phases    []Phase   `json:"phases"`
}

// Machine describes where the suite ran.
type Machine struct {
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	CPU       string `json:"cpu"`
	CPUs      int    `json:"cpus"`
	MemBytes  int64  `json:"mem_bytes"`
	Go        string `json:"go"`
	LoadStart string `json:"load_start"` // 1, 5 and 15-minute load averages
	LoadEnd   string `json:"load_end"`
}

type reportConfig struct {
	Size int64  `json:"size"`
	Seed uint64 `json:"seed"`
	Runs int    `json:"runs"`
}

// Report is the suite's result: every run, and per phase the run with the
// median wall time.
type Report struct {
	Started   time.Time    `json:"started"`
	Machine   Machine      `json:"machine"`
	Config    reportConfig `json:"config"`
	Baselines Baselines    `json:"baselines"` // medians over the runs
	Summary   []Phase      `json:"summary"`
	Runs      []RunResult  `json:"runs"`
}

// summarize fills Summary and Baselines from Runs: for each phase the
// median run by wall time among those that passed (the upper median of an
// even count), else the first run's record of it.
func (r *Report) summarize() {
	r.Summary = nil
	if len(r.Runs) == 0 {
		return
	}
	for i := range r.Runs[0].Phases {
		var ok []Phase
		for _, run := range r.Runs {
			if p := run.Phases[i]; p.Status == StatusOK {
				ok = append(ok, p)
			}
		}
		if len(ok) == 0 {
			r.Summary = append(r.Summary, r.Runs[0].Phases[i])
			continue
		}
		slices.SortFunc(ok, func(a, b Phase) int { return cmpFloat(a.WallS, b.WallS) })
		p := ok[len(ok)/2]
		p.Runs = len(ok)
		if len(ok) > 1 {
			p.Note = joinNote(p.Note, fmt.Sprintf("median of %d runs, wall %.2f–%.2f s", len(ok), ok[0].WallS, ok[len(ok)-1].WallS))
		}
		r.Summary = append(r.Summary, p)
	}
	var b3, cp []float64
	for _, run := range r.Runs {
		b3 = append(b3, run.Baselines.Blake3MBps)
		cp = append(cp, run.Baselines.CopyMBps)
	}
	r.Baselines = Baselines{Blake3MBps: median(b3), CopyMBps: median(cp)}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// Output file names inside the directory Write writes to.
const (
	MarkdownFile = "report.md"
	JSONFile     = "report.json"
	PlotFile     = "throughput.png"
)

// Write writes the report into dir (created if missing) as Markdown, JSON
// and a PNG plot of the throughput per phase.
func Write(dir string, r *Report) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("e2e: %w", err)
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("e2e: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, JSONFile), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("e2e: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, MarkdownFile), []byte(r.Markdown()), 0o644); err != nil {
		return fmt.Errorf("e2e: %w", err)
	}
	return writePlot(filepath.Join(dir, PlotFile), r)
}
