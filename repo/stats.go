package repo

import (
	"sync/atomic"

	"github.com/holdfast-backup/holdfast/repo/erasure"
	"github.com/holdfast-backup/holdfast/repo/index"
)

// Stats are the engine's running counters, for the server's metrics.
type Stats struct {
	// DamagedShards counts damaged or missing shards met by reads and
	// scrubs since start (the same shard counts again each time it is met).
	DamagedShards uint64
	// RedirectedShards counts shards that pack writes put on another store
	// than their placed one because that store failed (SPEC.md §9.8).
	RedirectedShards uint64
	// SlowReads counts reads (of pack ranges, whole shards or meta
	// objects) that got their bytes from other stores because one had not
	// answered within the hedge delay (SPEC.md §9.9).
	SlowReads uint64
	// CommitRefsPinned and CommitRefsLookedUp count the references of
	// committed (or refused) snapshots that a present pin of the session
	// vouched for, and those looked up in the index.
	CommitRefsPinned, CommitRefsLookedUp uint64
	// Presence is the state of the index's presence table, which answers
	// FilterMissing (SPEC.md §11.6).
	Presence index.PresenceStats
}

// counters are updated by the engine and read by Stats.
type counters struct {
	damaged                atomic.Uint64
	redirected             atomic.Uint64
	slowReads              atomic.Uint64
	refsPinned, refsLooked atomic.Uint64
}

// Stats returns a snapshot of the engine's counters.
func (r *Repo) Stats() Stats {
	return Stats{
		DamagedShards:      r.counters.damaged.Load(),
		RedirectedShards:   r.counters.redirected.Load(),
		SlowReads:          r.counters.slowReads.Load(),
		CommitRefsPinned:   r.counters.refsPinned.Load(),
		CommitRefsLookedUp: r.counters.refsLooked.Load(),
		Presence:           r.idx.PresenceStats(),
	}
}

// onRedirect counts shards written around a failed store.
func (r *Repo) onRedirect(erasure.Redirect) { r.counters.redirected.Add(1) }

// onSlowRead counts reads that went around a store that did not answer.
func (r *Repo) onSlowRead(uint16) { r.counters.slowReads.Add(1) }

// onDamage counts damage and forwards it to the configured callback.
func (r *Repo) onDamage(d erasure.Damage) {
	r.counters.damaged.Add(1)
	if r.cfg.OnDamage != nil {
		r.cfg.OnDamage(d)
	}
}
