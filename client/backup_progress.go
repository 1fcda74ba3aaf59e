package client

import (
	"context"
	"path"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// startProgress reports progress to opts.Progress until the returned
// function is called, which reports once more and returns. A second walk
// counts files and bytes concurrently, so a display can show an ETA; it
// runs only when someone watches.
func (w *backupWalker) startProgress(opts BackupOptions, start time.Time) (stop func()) {
	if opts.Progress == nil {
		return func() {}
	}
	every := opts.ProgressEvery
	if every <= 0 {
		every = 250 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(w.ctx)
	var totalFiles, totalBytes atomic.Uint64
	var scanDone atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		w.scan(ctx, &totalFiles, &totalBytes)
		scanDone.Store(ctx.Err() == nil)
	})
	report := func() {
		opts.Progress(BackupProgress{
			Files:         w.doneFiles.Load(),
			Dirs:          w.doneDirs.Load(),
			DoneBytes:     w.doneBytes.Load(),
			BytesRead:     w.pipe.bytesRead.Load(),
			BytesUploaded: w.pipe.bytesUploaded.Load(),
			TotalFiles:    totalFiles.Load(),
			TotalBytes:    totalBytes.Load(),
			ScanDone:      scanDone.Load(),
			Elapsed:       time.Since(start),
		})
	}
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				report()
			}
		}
	})
	return func() {
		cancel()
		wg.Wait()
		report()
	}
}

// scan counts the non-directory entries and file bytes below the roots,
// with the walk's excludes. Like the walk it lists directories with
// O_NOATIME where allowed, so watching a backup does not change what the
// next one records.
func (w *backupWalker) scan(ctx context.Context, files, bytes *atomic.Uint64) {
	var visit func(abs, rel string)
	visit = func(abs, rel string) {
		var st unix.Stat_t
		if ctx.Err() != nil || unix.Lstat(abs, &st) != nil {
			return
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			files.Add(1)
			if st.Mode&unix.S_IFMT == unix.S_IFREG {
				bytes.Add(uint64(st.Size))
			}
			return
		}
		f, err := bkOpenDir(abs)
		if err != nil {
			return
		}
		names, _ := f.Readdirnames(-1)
		f.Close()
		for _, name := range names {
			if r := path.Join(rel, name); !w.plan.excluded(r, name) {
				visit(w.plan.childPath(abs, rel, name), r)
			}
		}
	}
	for _, root := range w.plan.roots {
		if w.plan.rootDir {
			visit(root.abs, "")
		} else {
			visit(root.abs, root.base)
		}
	}
}
