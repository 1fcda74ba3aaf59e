package index

import (
	"fmt"
	"time"
)

// Stats is a summary of Pebble's metrics, for monitoring and for the
// memory and speed measurements in internal/scalebench.
type Stats struct {
	DiskBytes        uint64 // tables, WAL, manifest and obsolete files not yet deleted
	MemTableBytes    uint64 // memtables, including ones being flushed
	CacheBytes       int64  // block cache in use
	CacheHits        int64
	CacheMisses      int64
	FilterHits       int64 // table reads a bloom filter avoided
	FilterMisses     int64 // table reads a bloom filter could not avoid
	L0Files          int64
	L0Sublevels      int32
	ReadAmp          int   // tables a point lookup may consult
	Compactions      int64 // completed since Open
	CompactionsNow   int64 // in progress
	CompactionDebtMB uint64
	Flushes          int64

	Presence PresenceStats
}

// PresenceStats describe the presence table (SPEC.md §11.6).
type PresenceStats struct {
	Ready     bool          // a table is installed: Missing answers from it
	Ring      bool          // its reads go through io_uring (else pread)
	Entries   int64         // chunk IDs in the installed table
	Memory    int64         // its fences and filters, in bytes
	Delta     int           // chunks put or deleted since its snapshot
	Builds    int64         // tables built since Open
	Errors    int64         // builds that failed
	Drops     int64         // tables dropped (too many deletions, a failed read)
	LastBuild time.Duration // how long the last build took
	Answered  int64         // IDs Missing answered from presence
	Reads     int64         // table reads those answers took
	Confirmed int64         // IDs put since the table's snapshot (or false positives) asked of Pebble
}

// Stats returns a snapshot of the index's metrics.
func (x *Index) Stats() (Stats, error) {
	if err := x.check(); err != nil {
		return Stats{}, err
	}
	m := x.db.Metrics()
	return Stats{
		DiskBytes:        m.DiskSpaceUsage(),
		MemTableBytes:    m.MemTable.Size,
		CacheBytes:       m.BlockCache.Size,
		CacheHits:        m.BlockCache.Hits,
		CacheMisses:      m.BlockCache.Misses,
		FilterHits:       m.Filter.Hits,
		FilterMisses:     m.Filter.Misses,
		L0Files:          m.Levels[0].TablesCount,
		L0Sublevels:      m.Levels[0].Sublevels,
		ReadAmp:          m.ReadAmp(),
		Compactions:      m.Compact.Count,
		CompactionsNow:   m.Compact.NumInProgress,
		CompactionDebtMB: m.Compact.EstimatedDebt >> 20,
		Flushes:          m.Flush.Count,
		Presence:         x.presence.statsNow(),
	}, nil
}

// PresenceStats returns the presence table's state without Pebble's
// metrics: cheap enough for every scrape.
func (x *Index) PresenceStats() PresenceStats { return x.presence.statsNow() }

// Flush writes the memtables to tables and waits for it. Commits do not
// need it (they are durable in the WAL); it is for maintenance and tests.
func (x *Index) Flush() error {
	if err := x.check(); err != nil {
		return err
	}
	if err := x.db.Flush(); err != nil {
		return fmt.Errorf("index: flush: %w", err)
	}
	return nil
}

// String formats the Pebble metrics in full, for debugging.
func (x *Index) String() string {
	if x.check() != nil {
		return "index (closed)"
	}
	return x.db.Metrics().String()
}
