package main

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/holdfast-backup/holdfast/client"
)

// progressLine redraws one status line on a terminal: bytes done of the
// total, files, rate and ETA. The total comes from a scan that runs beside
// the backup, so the ETA appears once the scan is done.
type progressLine struct {
	mu    sync.Mutex
	w     io.Writer
	drawn bool
}

func (p *progressLine) update(s client.BackupProgress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	rate := 0.0
	if secs := s.Elapsed.Seconds(); secs > 0 {
		rate = float64(s.DoneBytes) / secs
	}
	line := bkBytes(s.DoneBytes)
	if s.TotalBytes > 0 {
		line += fmt.Sprintf(" / %s", bkBytes(s.TotalBytes))
	}
	line += fmt.Sprintf("  %d", s.Files)
	if s.TotalFiles > 0 {
		line += fmt.Sprintf(" / %d", s.TotalFiles)
	}
	line += fmt.Sprintf(" files  %s/s  uploaded %s", bkBytes(uint64(rate)), bkBytes(s.BytesUploaded))
	if s.ScanDone && rate > 0 && s.TotalBytes > s.DoneBytes {
		eta := time.Duration(float64(s.TotalBytes-s.DoneBytes) / rate * float64(time.Second))
		line += "  ETA " + eta.Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\r%s\x1b[K", line)
	p.drawn = true
}

// done ends the line so later output starts on a fresh one.
func (p *progressLine) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprintln(p.w)
	}
}
