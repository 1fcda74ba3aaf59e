package main

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vbauerster/mpb/v8"

	"github.com/holdfast-backup/holdfast/client"
)

// syncBuffer is a fake terminal: mpb writes from its own goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestMeterRender draws a backup bar into a fake terminal and checks that
// it shows bytes of the total, files of the total, the rate and the ETA,
// and that the ETA only appears once the totals are final.
func TestMeterRender(t *testing.T) {
	var out syncBuffer
	m := newMeter(&out, "backup", mpb.WithAutoRefresh(), mpb.WithWidth(120), mpb.WithRefreshRate(5*time.Millisecond))
	m.update(backupStat(client.BackupProgress{DoneBytes: 1 << 20, TotalBytes: 3 << 20, Files: 3, TotalFiles: 9, Elapsed: time.Second}))
	waitFor(t, &out, "1.0 MiB / 3.0 MiB")
	if s := out.String(); strings.Contains(s, "ETA") {
		t.Errorf("ETA shown while the scan still runs: %q", s)
	}
	m.update(backupStat(client.BackupProgress{DoneBytes: 2 << 20, TotalBytes: 4 << 20, Files: 5, TotalFiles: 10, Elapsed: 2 * time.Second, ScanDone: true}))
	waitFor(t, &out, "ETA 2s") // 2 MiB left at 1 MiB/s
	m.finish(true)
	s := out.String()
	for _, want := range []string{"backup", "2.0 MiB / 4.0 MiB", "5 / 10 files", "1.0 MiB/s", "ETA 2s"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%q", want, s)
		}
	}
}

// TestMeterUnknownTotal is a restore with --include: no total, no ETA.
func TestMeterUnknownTotal(t *testing.T) {
	var out syncBuffer
	m := newMeter(&out, "restore", mpb.WithAutoRefresh(), mpb.WithWidth(100), mpb.WithRefreshRate(5*time.Millisecond))
	var p client.Progress
	p.Bytes.Store(5 << 10)
	p.Files.Store(7)
	stop := pollProgress(t.Context(), m, &p, time.Now().Add(-time.Second), 0, 0)
	waitFor(t, &out, "5.0 KiB  7 files")
	stop()
	if s := out.String(); strings.Contains(s, "ETA") || strings.Contains(s, " / ") {
		t.Errorf("unknown total drawn as known: %q", s)
	}
}

func waitFor(t *testing.T, out *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("never drew %q; output:\n%q", want, out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestProgressQuietOffTerminal: a pipe, a file or no file get no bar, so
// the backup and restore hooks stay off.
func TestProgressQuietOffTerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	f, err := os.Create(t.TempDir() + "/log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, file := range []*os.File{w, f, nil} {
		if progressWriter(file) != nil {
			t.Errorf("progressWriter(%v) is not nil", file)
		}
	}
}
