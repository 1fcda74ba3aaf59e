package gc

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Defaults (SPEC.md §13.10).
const (
	// DefaultGrace keeps chunks of packs committed in the last hour, and
	// orphan shards younger than that, whatever else says.
	DefaultGrace = time.Hour
	// MinGrace is the shortest grace Run accepts. Live sessions are
	// protected by their pins (synced before FilterMissing or PutChunks
	// answers) and the guard, not by the grace; what the grace still covers
	// is the shards of a pack being written right now, whose write takes
	// seconds. A minute leaves ample room, and lets an operator (or a
	// benchmark) reclaim space soon after a forget.
	MinGrace = time.Minute
	// DefaultRepackBelow repacks a pack when less than half its bytes are
	// still referenced.
	DefaultRepackBelow = 0.5
	// sliceSize is how many candidates one seal step decides and deletes
	// while holding the guard exclusively: about 40 ms of index work.
	sliceSize = 32 << 10
)

// ErrBusy is returned by Run when a collection of the same repository is
// already running.
var ErrBusy = errors.New("gc: a garbage collection of this repository is already running")

// Options configure Run. The zero value means the defaults.
type Options struct {
	// DryRun computes and reports everything and changes nothing.
	DryRun bool
	// Grace: chunks in packs younger than this are never collected, and
	// orphan shards younger than this are left alone. 0 means DefaultGrace;
	// less than MinGrace is refused.
	Grace time.Duration
	// RepackBelow is the live fraction (live record bytes / pack length)
	// under which a pack is repacked; 0 means DefaultRepackBelow, a
	// negative value disables repacking.
	RepackBelow float64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log receives progress and warnings; nil discards.
	Log *slog.Logger
	// Progress, if set, is called as each phase advances.
	Progress func(Progress)

	// hook, in tests, is called at every step boundary of the protocol
	// with the step's name (see steps.go).
	hook func(step string)
}

// Progress is one progress report.
type Progress struct {
	Phase string `json:"phase"` // mark, seal, packs, orphans
	Done  int64  `json:"done"`
	Total int64  `json:"total"` // 0 when unknown
}

func (o Options) withDefaults() (Options, error) {
	if o.Grace == 0 {
		o.Grace = DefaultGrace
	}
	if o.Grace < MinGrace {
		return o, fmt.Errorf("gc: grace %s is shorter than the minimum %s (it must outlast the write of a pack)", o.Grace, MinGrace)
	}
	if o.RepackBelow == 0 {
		o.RepackBelow = DefaultRepackBelow
	}
	if o.RepackBelow > 1 {
		return o, fmt.Errorf("gc: repack threshold %.2f is above 1", o.RepackBelow)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

func (o *Options) step(name string) {
	if o.hook != nil {
		o.hook(name)
	}
}

func (o *Options) progress(phase string, done, total int64) {
	if o.Progress != nil {
		o.Progress(Progress{Phase: phase, Done: done, Total: total})
	}
}

// Report says what a run found and did. Byte counts are pack bytes (the
// records and trailers that shards encode) unless named stored, which
// counts the shard objects on the stores, erasure overhead included.
type Report struct {
	DryRun      bool   `json:"dry_run"`
	Epoch       uint64 `json:"epoch"`
	Interrupted bool   `json:"previous_run_interrupted"`

	Snapshots       int `json:"snapshots_marked"`
	SnapshotsLocked int `json:"snapshots_locked"`
	SnapshotsNew    int `json:"snapshots_committed_during_gc"`

	Chunks        int64 `json:"chunks_total"`
	ChunksLive    int64 `json:"chunks_live"`
	ChunksYoung   int64 `json:"chunks_unreferenced_in_grace"`
	ChunksDead    int64 `json:"chunks_dead"`
	ChunksPinned  int64 `json:"chunks_kept_pinned"`
	ChunksNewRefs int64 `json:"chunks_kept_new_snapshots"`
	ChunksFreed   int64 `json:"chunks_freed"`
	BytesDead     int64 `json:"bytes_dead"`

	Packs            int   `json:"packs_total"`
	PacksDeleted     int   `json:"packs_deleted"`
	PacksRepacked    int   `json:"packs_repacked"`
	PacksWritten     int   `json:"packs_written"`
	PacksKept        int   `json:"packs_kept"`
	PacksRetained    int   `json:"packs_kept_retention"`
	PacksLocked      int   `json:"packs_kept_locked"`
	ChunksMoved      int   `json:"chunks_moved"`
	BytesFreed       int64 `json:"bytes_freed"`
	StoredBytesFreed int64 `json:"stored_bytes_freed"`
	BytesRewritten   int64 `json:"bytes_rewritten"`

	OrphanShards int   `json:"orphan_shards_deleted"`
	OrphanBytes  int64 `json:"orphan_bytes_deleted"`

	GuardHolds   int64   `json:"guard_holds"`
	GuardMaxMS   float64 `json:"guard_max_ms"`
	GuardTotalMS float64 `json:"guard_total_ms"`

	Duration float64 `json:"duration_s"`
	Phases   Phases  `json:"phases_s"`
}

// Phases are the wall-clock seconds of each phase.
type Phases struct {
	Mark    float64 `json:"mark"`
	Seal    float64 `json:"seal"`
	Packs   float64 `json:"packs"`
	Orphans float64 `json:"orphans"`
}
