package index

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/holdfast-backup/holdfast/format/indexkey"
)

// Index is an open index. Its methods are safe for concurrent use, except
// that Close must not race with any other call.
type Index struct {
	db     *pebble.DB
	lock   *pebble.Lock
	closed atomic.Bool

	// repoMu serialises CreateRepo, so two creations never pick the same
	// repository ID.
	repoMu sync.Mutex

	scratch sync.Pool // *scratch, for Missing and Lookup

	presence *presence // nil when Options.PresenceMemory < 0
	disk     *diskGuard
}

// Open opens the index in dir, creating dir and an empty index if needed.
// It returns ErrLocked if another process (or another Index in this
// process) has dir open.
func Open(dir string, opts Options) (*Index, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("index: open: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("index: open: %w", err)
	}
	// Take Pebble's directory lock first, so that a lock conflict is told
	// apart from every other reason Open can fail.
	lock, err := pebble.LockDirectory(dir, vfs.Default)
	if err != nil {
		if isLockConflict(err) {
			return nil, fmt.Errorf("index: open: %w: %w", ErrLocked, err)
		}
		return nil, fmt.Errorf("index: open: lock: %w", err)
	}
	disk := newDiskGuard(dir, opts.BallastSize, opts.Logger)
	if opts.guard != nil {
		opts.guard(disk)
	}
	disk.open()
	cache := pebble.NewCache(opts.pebbleCacheSize())
	defer cache.Unref() // the DB holds its own reference
	db, err := pebble.Open(dir, opts.pebbleOptions(cache, lock, disk.fs(opts.fs)))
	if err != nil {
		return nil, errors.Join(fmt.Errorf("index: open: %w", err), lock.Close())
	}
	x := &Index{db: db, lock: lock, disk: disk}
	if opts.PresenceMemory > 0 {
		x.presence = newPresence(opts.PresenceMemory, opts.Logger.With("component", "presence"))
		x.presence.snapshot = db.NewSnapshot
		x.presence.build = func(ctx context.Context, snap *pebble.Snapshot) (*ptable, error) {
			return buildPresence(ctx, snap, dir, opts.PresenceMemory)
		}
		x.presence.confirm = x.confirm
		removeStalePresence(dir)
	}
	return x, nil
}

// isLockConflict reports whether an error from pebble.LockDirectory means
// someone else holds the lock: fcntl's EAGAIN or EACCES (not a failure to
// create the LOCK file, which comes as a *fs.PathError), or Pebble's
// in-process lock table.
func isLockConflict(err error) bool {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return false
	}
	return errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) ||
		strings.Contains(err.Error(), "lock held by current process")
}

// Close closes the database and releases the directory lock. Memtables are
// not flushed: every commit is already in the write-ahead log, which Close
// syncs. Calls after the first return ErrClosed.
func (x *Index) Close() error {
	if !x.closed.CompareAndSwap(false, true) {
		return ErrClosed
	}
	x.presence.close() // before the DB: a build holds a snapshot
	err := x.db.Close()
	if lerr := x.lock.Close(); err == nil {
		err = lerr
	}
	if err != nil {
		return fmt.Errorf("index: close: %w", err)
	}
	return nil
}

// DiskFull reports whether the index refuses new keys because its disk is
// full (ErrDiskFull). A writer that would fill the disk further, such as
// the engine landing a pack on a store beside the index, asks first.
func (x *Index) DiskFull() bool { return x.disk.refuses() }

func (x *Index) check() error {
	if x.closed.Load() {
		return ErrClosed
	}
	return nil
}

// get reads the value of k and passes it to decode while it is still valid
// (decode must copy what it keeps). An absent key is ErrNotFound; a value
// decode refuses is reported naming the key.
func (x *Index) get(k []byte, decode func(v []byte) error) error {
	if err := x.check(); err != nil {
		return err
	}
	v, closer, err := x.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return fmt.Errorf("%s: %w", indexkey.Describe(k), ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("index: get %s: %w", indexkey.Describe(k), err)
	}
	err = decode(v)
	if cerr := closer.Close(); err == nil && cerr != nil {
		return fmt.Errorf("index: get %s: %w", indexkey.Describe(k), cerr)
	}
	if err != nil {
		return fmt.Errorf("index: %s: %w", indexkey.Describe(k), err)
	}
	return nil
}
