package main

import (
	"os"

	"github.com/holdfast-backup/holdfast/client"
)

// startBackupProgress hooks a progress bar into opts when stderr is a
// terminal, and returns the function that ends it with the backup's error.
func startBackupProgress(opts *client.BackupOptions) (stop func(err error)) {
	w := progressWriter(os.Stderr)
	if w == nil {
		return func(error) {}
	}
	m := newMeter(w, "backup")
	opts.Progress = func(s client.BackupProgress) { m.update(backupStat(s)) }
	return func(err error) { m.finish(err == nil) }
}

// backupStat maps the client's counters onto the bar.
func backupStat(s client.BackupProgress) progressStat {
	return progressStat{
		done: s.DoneBytes, total: s.TotalBytes,
		files: s.Files, totalFiles: s.TotalFiles,
		elapsed: s.Elapsed, final: s.ScanDone,
	}
}
