package main

import (
	"context"
	"os"
	"sync"
	"time"

	"github.com/holdfast-backup/holdfast/client"
)

// showProgress draws a bar for p on stderr while stderr is a terminal,
// with no totals known, and returns the function that ends it.
func showProgress(ctx context.Context, p *client.Progress, start time.Time, verb string) func() {
	return showProgressTotal(ctx, p, start, verb, 0, 0)
}

// showProgressTotal is showProgress with the expected content bytes and
// entries (0: unknown), e.g. a whole snapshot's size and file count.
func showProgressTotal(ctx context.Context, p *client.Progress, start time.Time, verb string, totalBytes, totalFiles uint64) func() {
	w := progressWriter(os.Stderr)
	if w == nil {
		return func() {}
	}
	m := newMeter(w, verb)
	return pollProgress(ctx, m, p, start, totalBytes, totalFiles)
}

// pollProgress copies p's counters into m every refresh until the
// returned function is called (or ctx ends), which ends the bar.
func pollProgress(ctx context.Context, m *meter, p *client.Progress, start time.Time, totalBytes, totalFiles uint64) func() {
	sample := func() {
		m.update(progressStat{
			done: uint64(p.Bytes.Load()), total: totalBytes,
			files: uint64(p.Files.Load()), totalFiles: totalFiles,
			elapsed: time.Since(start), final: totalBytes > 0,
		})
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(progressRefresh)
		defer t.Stop()
		for {
			sample()
			select {
			case <-t.C:
			case <-done:
				return
			case <-ctx.Done():
				return
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
		sample()
		m.finish(ctx.Err() == nil)
	}
}

// showRestoreProgress is the bar of a restore. A whole snapshot's size
// and file count (non-directory entries, what restore counts) are in its header; with --include the share is not
// known, so no total is shown. Holes and files already correct are not
// written, so such a restore ends before the bar is full.
func showRestoreProgress(ctx context.Context, snap client.Snapshot, opts client.RestoreOptions, start time.Time) func() {
	var bytes, files uint64
	if len(opts.Include) == 0 && snap.Header != nil {
		bytes, files = snap.Header.Size, snap.Header.Files
	}
	return showProgressTotal(ctx, opts.Progress, start, "restore", bytes, files)
}
