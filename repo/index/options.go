package index

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Defaults, chosen so that resident memory stays well under 256 MiB however
// many entries the index holds (measured with 10 million chunks by
// internal/scalebench: under 60 MiB while inserting, under 200 MiB while
// looking up).
const (
	// DefaultCacheSize is the block cache: it holds every table's filter and
	// index blocks (about 17 MiB and 5 MiB per 10 million chunks) plus the
	// hottest data blocks. Data blocks it misses are read from the OS page
	// cache, which does not count against the process.
	DefaultCacheSize = 64 << 20

	// DefaultMemTableSize is one memtable. Pebble keeps at most two (one
	// filling, one flushing) before it stalls writes, so this costs twice
	// its size at most. 16 MiB takes random chunk IDs at about 300,000
	// inserts/s on two cores; 32 MiB inserts no faster there and costs 32
	// MiB more.
	DefaultMemTableSize = 16 << 20

	// DefaultPresenceMemory bounds the presence table's fences and
	// filters: 1.75 bytes a chunk at full resolution, so 64 MiB serves
	// 38 million chunks before spans lengthen and filters thin out.
	DefaultPresenceMemory = 64 << 20

	// MinPresenceMemory is the smallest positive Options.PresenceMemory:
	// below it the spans a lookup reads grow long for little saved.
	MinPresenceMemory = 1 << 20

	// DefaultBallastSize is the disk space held in reserve for a full
	// disk: room for Pebble to finish the write that met ENOSPC, flush a
	// memtable and take the deletions that free space.
	DefaultBallastSize = 64 << 20

	// MinMemTableSize and MaxMemTableSize bound Options.MemTableSize.
	MinMemTableSize = 4 << 20
	MaxMemTableSize = 256 << 20

	// bloomBitsPerKey gave 0.45% false positives per table probed at 10
	// million chunks (10 bits gave 1.1%, and the data block read of a
	// false positive was a tenth of an absent lookup's time): most
	// Missing lookups are for chunks the repository does not hold, and a
	// filter miss answers them without reading a data block.
	bloomBitsPerKey = 14

	// formatVersion is pinned, not FormatNewest, so that upgrading Pebble
	// never ratchets an existing index to a format an older build cannot
	// read.
	formatVersion = pebble.FormatTableFormatV6
)

// Options configure Open. The zero value is valid.
type Options struct {
	// CacheSize is the block cache in bytes; 0 means DefaultCacheSize.
	CacheSize int64

	// MemTableSize is the size of one memtable in bytes; 0 means
	// DefaultMemTableSize. It must lie in [MinMemTableSize,
	// MaxMemTableSize].
	MemTableSize int

	// PresenceMemory bounds the memory of the presence table that answers
	// Missing (its fences and filters; SPEC.md §11.6); 0 means
	// DefaultPresenceMemory. Negative turns the table off: Missing then
	// always asks Pebble.
	PresenceMemory int64

	// BallastSize is the disk space the index keeps in reserve for a full
	// disk (see diskfull.go): on ENOSPC it gives the space back to Pebble
	// and refuses new data until the disk has room again. 0 means
	// DefaultBallastSize; negative means no ballast, and a full disk then
	// stops every write of the process.
	BallastSize int64

	// Logger receives Pebble's messages: its errors and write stalls at
	// warn level, routine messages at debug level. nil discards them.
	Logger *slog.Logger

	// fs is the file system under Pebble; nil means the real one. Tests
	// set it, and guard, to make the disk fill up.
	fs    vfs.FS
	guard func(*diskGuard)
}

func (o Options) withDefaults() (Options, error) {
	if o.CacheSize == 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = DefaultMemTableSize
	}
	if o.PresenceMemory == 0 {
		o.PresenceMemory = DefaultPresenceMemory
	}
	if o.BallastSize == 0 {
		o.BallastSize = DefaultBallastSize
	}
	if o.fs == nil {
		o.fs = vfs.Default
	}
	if o.CacheSize < 0 {
		return o, fmt.Errorf("%w: cache size %d", ErrInvalid, o.CacheSize)
	}
	if o.PresenceMemory > 0 && o.PresenceMemory < MinPresenceMemory {
		return o, fmt.Errorf("%w: presence memory %d bytes, below the minimum of %d (a negative value turns the table off)",
			ErrInvalid, o.PresenceMemory, MinPresenceMemory)
	}
	if o.MemTableSize < MinMemTableSize || o.MemTableSize > MaxMemTableSize {
		return o, fmt.Errorf("%w: memtable size %d", ErrInvalid, o.MemTableSize)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// maxMemTables is how many memtables Pebble may hold at once: one filling,
// one flushing (MemTableStopWritesThreshold); a flushed one is kept for
// recycling only while no other is allocated.
const maxMemTables = 2

// pebbleCacheSize is the capacity of Pebble's cache. Pebble reserves every
// memtable's memory out of its cache, so a cache of CacheSize alone would
// leave nothing for blocks once the memtables are full size; the memtables
// are added on top, and the block cache keeps CacheSize.
func (o Options) pebbleCacheSize() int64 {
	return o.CacheSize + maxMemTables*int64(o.MemTableSize)
}

// pebbleOptions returns the Pebble options for o (after withDefaults). The
// caller owns cache and must Unref it once the DB holds its own reference.
func (o Options) pebbleOptions(cache *pebble.Cache, lock *pebble.Lock, fs vfs.FS) *pebble.Options {
	log := o.Logger.With("component", "pebble")
	po := &pebble.Options{
		Cache:              cache,
		Lock:               lock,
		FS:                 fs,
		FormatMajorVersion: formatVersion,
		MemTableSize:       uint64(o.MemTableSize),
		// One memtable filling, one flushing; a third stalls writes rather
		// than growing memory.
		MemTableStopWritesThreshold: 2,
		// Start compacting L0 early so lookups check few L0 files, and stall
		// writes (rather than let read amplification grow without bound) if
		// compactions fall far behind.
		L0CompactionThreshold:     2,
		L0CompactionFileThreshold: 500,
		L0StopWritesThreshold:     24,
		LBaseMaxBytes:             64 << 20,
		DisableWAL:                false,
		MaxOpenFiles:              1000,
		Logger:                    logger{log},
		EventListener:             eventListener(log),
		CompactionConcurrencyRange: func() (int, int) {
			return 1, max(1, runtime.GOMAXPROCS(0)/2)
		},
	}
	// Columnar blocks binary-search keys without decoding a block row by
	// row: about 15% more Missing lookups per second than row blocks at 10
	// million chunks.
	po.Experimental.EnableColumnarBlocks = func() bool { return true }
	for i := range po.Levels {
		l := &po.Levels[i]
		l.FilterPolicy = bloom.FilterPolicy(bloomBitsPerKey)
		l.FilterType = pebble.TableFilter
	}
	po.EnsureDefaults()
	return po
}

// logger routes Pebble's log calls to slog: Infof is routine (flushes,
// WAL recovery) and goes to debug; Errorf reports a problem Pebble
// survives and goes to warn.
type logger struct{ log *slog.Logger }

func (l logger) Infof(format string, args ...any) {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug(fmt.Sprintf(format, args...))
	}
}

func (l logger) Errorf(format string, args ...any) {
	l.log.Warn(fmt.Sprintf(format, args...))
}

// Fatalf is called when Pebble cannot continue; it must not return.
func (l logger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.log.Error(msg)
	panic("index: pebble: " + msg)
}

// eventListener logs the events an operator must see; the others stay
// silent. Data corruption is also returned to the reader that found it, so
// it is logged rather than treated as fatal (Pebble's default).
func eventListener(log *slog.Logger) *pebble.EventListener {
	return &pebble.EventListener{
		BackgroundError: func(err error) {
			log.Warn("background error", "err", err)
		},
		DataCorruption: func(info pebble.DataCorruptionInfo) {
			log.Error("data corruption", "info", info.String())
		},
		// A stall is Pebble's back-pressure on bulk writes (it waits for a
		// flush or compaction), normal under heavy upload: info, not warn.
		WriteStallBegin: func(info pebble.WriteStallBeginInfo) {
			log.Info("write stall", "reason", info.Reason)
		},
		DiskSlow: func(info pebble.DiskSlowInfo) {
			log.Warn("disk slow", "info", info.String())
		},
	}
}
