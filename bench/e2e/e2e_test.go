package e2e

import (
	"context"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSuiteSmall runs the whole suite once on a 64 MiB data set with the
// real binaries and checks that every phase produced numbers (or, for a
// command this build lacks, says so and carries none), that the restore
// was bit-exact, that the backups uploaded what they should, and that the
// Markdown, JSON and PNG outputs exist and parse.
func TestSuiteSmall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	work := t.TempDir()
	var log strings.Builder
	rep, err := Run(ctx, Config{WorkDir: work, Size: 64 << 20, Seed: 5, Log: &log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	t.Log("\n" + log.String())
	if len(rep.Summary) != len(phases) || len(rep.Runs) != 1 {
		t.Fatalf("%d phases in the summary, %d runs", len(rep.Summary), len(rep.Runs))
	}
	if b := rep.Baselines; b.Blake3MBps <= 0 || b.CopyMBps <= 0 {
		t.Errorf("baselines %+v", b)
	}
	byName := map[string]Phase{}
	for _, p := range rep.Summary {
		byName[p.Name] = p
		checkPhase(t, p)
	}
	first, same, changed := byName["backup (first)"], byName["backup (no change)"], byName["backup (1% changed)"]
	if first.BytesUploaded == nil || *first.BytesUploaded < rep.Runs[0].Bytes/4 {
		t.Errorf("first backup uploaded %v of %d bytes", first.BytesUploaded, rep.Runs[0].Bytes)
	}
	if same.BytesUploaded == nil || *same.BytesUploaded != 0 {
		t.Errorf("unchanged backup uploaded %v", same.BytesUploaded)
	}
	if changed.BytesUploaded == nil || *changed.BytesUploaded == 0 || *changed.BytesUploaded >= *first.BytesUploaded {
		t.Errorf("1%% changed backup uploaded %v (first %v)", changed.BytesUploaded, first.BytesUploaded)
	}
	if !byName["restore"].Verified {
		t.Errorf("restore not verified: %s", byName["restore"].Note)
	}
	checkOutputs(t, filepath.Join(work, "out"), rep)
}

// checkPhase checks one phase carries every number (every command, gc
// included, exists in this build: "not available" is a failure here).
func checkPhase(t *testing.T, p Phase) {
	t.Helper()
	switch {
	case p.Status != StatusOK:
		t.Errorf("%s: %s: %s", p.Name, p.Status, p.Note)
		return
	}
	if p.WallS <= 0 || p.Bytes <= 0 || p.MBps <= 0 || p.OfBlake3 <= 0 || p.OfCopy <= 0 || p.RepoBytes <= 0 || p.ServerRSS <= 0 {
		t.Errorf("%s: missing numbers: %+v", p.Name, p)
	}
	if p.ClientRSS <= 0 && !strings.HasPrefix(p.Name, "scrub") {
		t.Errorf("%s: no client peak RSS", p.Name)
	}
	if strings.HasPrefix(p.Name, "backup") != (p.BytesUploaded != nil) {
		t.Errorf("%s: bytes uploaded %v", p.Name, p.BytesUploaded)
	}
}

// checkOutputs writes the report and reads every output back.
func checkOutputs(t *testing.T, dir string, rep *Report) {
	t.Helper()
	if err := Write(dir, rep); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil || len(back.Summary) != len(rep.Summary) || back.Summary[0].MBps != rep.Summary[0].MBps {
		t.Errorf("JSON does not read back: %v", err)
	}
	md, err := os.ReadFile(filepath.Join(dir, MarkdownFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range rep.Summary {
		if !strings.Contains(string(md), "| "+p.Name+" |") {
			t.Errorf("Markdown lacks a row for %s", p.Name)
		}
	}
	f, err := os.Open(filepath.Join(dir, PlotFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil || img.Bounds().Dx() < 300 {
		t.Errorf("plot: %v", err)
	}
}
