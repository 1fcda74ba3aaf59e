package index

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// A full disk must not take the index down with it. Pebble treats a failed
// write-ahead log write as fatal: it panics, and it panics holding its
// commit lock, so every later commit of the process hangs. On a server
// whose stores share the index's file system, a backup that fills the disk
// would leave a server that answers nothing that writes.
//
// So the index keeps a ballast: a file of BallastSize bytes of reserved
// blocks in its directory. Pebble's file system reports every ENOSPC to
// the guard (vfs.OnDiskFull), which deletes the ballast; Pebble retries
// the write that failed, once, and now has room for it and for what it
// has in flight. From then on the index is full: a batch that takes new
// data in (chunks, pins, sessions, snapshots) fails with ErrDiskFull,
// while maintenance (forgetting snapshots, collecting garbage, ending
// sessions) still commits, so space can be freed through the server
// itself. Once the file system has room for the ballast and a quarter
// more, the ballast is put back and the index takes writes (checked at
// most once per diskRecheck, when a commit is refused or DiskFull is
// asked).

// ballastName is the ballast's file name in the index directory. Pebble
// leaves files it does not know alone.
const ballastName = "holdfast-ballast"

// diskRecheck is how often a full index looks at the free space again.
const diskRecheck = time.Second

// diskGuard owns the ballast and the full state of one index.
type diskGuard struct {
	path string // the ballast file
	size int64  // 0: no ballast (the index never reports full)
	log  *slog.Logger
	full atomic.Bool

	mu        sync.Mutex // serialises the ballast's removal and return
	lastCheck time.Time
	// The file system calls, which tests replace to model a disk.
	free    func(dir string) (int64, error) // bytes available
	reserve func(path string, size int64) error
	remove  func(path string) error
}

func newDiskGuard(dir string, size int64, log *slog.Logger) *diskGuard {
	return &diskGuard{
		path: filepath.Join(dir, ballastName), size: size, log: log,
		free: freeBytes, reserve: reserveFile, remove: os.Remove,
	}
}

// fs wraps inner so that every ENOSPC Pebble meets goes through the guard.
func (g *diskGuard) fs(inner vfs.FS) vfs.FS {
	if g.size <= 0 {
		return inner
	}
	return vfs.OnDiskFull(inner, g.onDiskFull)
}

// open puts the ballast in place if it is not there. If the disk has no
// room for it, the index opens full.
func (g *diskGuard) open() {
	if g.size <= 0 {
		return
	}
	if st, err := os.Stat(g.path); err == nil && st.Size() == g.size {
		return
	}
	if err := g.reserve(g.path, g.size); err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			g.full.Store(true)
			g.log.Error("the index's disk is full: new data is refused until space is freed", "ballast_bytes", g.size)
			return
		}
		// A file system without fallocate, say: run without a ballast
		// rather than refuse to start.
		g.log.Warn("index: no disk-full ballast; a full disk will stop the server", "err", err.Error())
		g.size = 0
	}
}

// onDiskFull is Pebble's ENOSPC callback: it frees the ballast so that the
// write Pebble retries succeeds, and marks the index full. Pebble blocks
// its writes while this runs.
func (g *diskGuard) onDiskFull() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.full.Swap(true) {
		return // the ballast went already; nothing more to free
	}
	err := g.remove(g.path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		g.log.Error("index: cannot remove the disk-full ballast", "err", err.Error())
	}
	g.lastCheck = time.Now()
	g.log.Error("the index's disk is full: new data is refused until space is freed (forget and gc free it)", "ballast_bytes", g.size)
}

// roomFor reports whether a full index's disk still has room to log a
// batch of n bytes: twice the batch, and a sixteenth of the ballast for
// the log's framing, file system metadata and what other writers of the
// disk may take meanwhile (4 MiB with the default ballast). Once the
// ballast is spent (or was never reserved), a write-ahead-log write that
// meets ENOSPC makes Pebble panic, so a maintenance batch is refused
// instead when it might not fit.
func (g *diskGuard) roomFor(n int64) bool {
	free, err := g.free(filepath.Dir(g.path))
	if err != nil {
		return true // no answer: let Pebble try, as before the ballast ran out
	}
	return free >= 2*n+g.size/16
}

// refuses reports whether a batch that takes new data must be refused. A full
// index looks at the free space again at most once per diskRecheck and
// takes writes again once the ballast is back.
func (g *diskGuard) refuses() bool {
	if !g.full.Load() {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.full.Load() || time.Since(g.lastCheck) < diskRecheck {
		return g.full.Load()
	}
	g.lastCheck = time.Now()
	if free, err := g.free(filepath.Dir(g.path)); err != nil || free < g.size+g.size/4 {
		return true
	}
	if err := g.reserve(g.path, g.size); err != nil {
		return true
	}
	g.full.Store(false)
	g.log.Info("the index's disk has room again: new data is accepted")
	return false
}
