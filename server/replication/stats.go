package replication

import (
	"sync/atomic"
	"time"
)

// Stats are one replication's counters and gauges, read by the server's
// metrics at scrape time. Safe for concurrent use.
type Stats struct {
	BytesSent     atomic.Uint64 // envelope bytes sent with PutChunks
	ChunksSent    atomic.Uint64
	SnapshotsSent atomic.Uint64
	Errors        atomic.Uint64 // failed passes
	// LagSnapshots is how many source snapshots the target lacked at the
	// last look (before a pass, then after it).
	LagSnapshots atomic.Int64
	// lagSince is when the oldest snapshot the target lacks was committed
	// on the source (unix nanoseconds); 0 when the target has them all.
	lagSince atomic.Int64
}

// LagSeconds is how long the oldest snapshot the target lacks has been
// waiting: the recovery point the target would give right now. 0 when the
// target is caught up.
func (s *Stats) LagSeconds(now time.Time) float64 {
	since := s.lagSince.Load()
	if since == 0 {
		return 0
	}
	return max(0, now.Sub(time.Unix(0, since)).Seconds())
}

func (s *Stats) setLag(n int, since time.Time) {
	s.LagSnapshots.Store(int64(n))
	if n == 0 {
		s.lagSince.Store(0)
		return
	}
	s.lagSince.Store(since.UnixNano())
}
