package erasure

import (
	"sync"

	"github.com/holdfast-backup/holdfast/format"
)

// Damage reasons, the values of Damage.Reason. They are few and fixed so that
// a metric can use them as a label.
const (
	// ReasonMissing: the shard object does not exist, or its placement names
	// a store this Coder does not have.
	ReasonMissing = "missing"
	// ReasonUnavailable: the shard's store is unavailable
	// (backend.ErrUnavailable: a local store's directory gone or not the
	// store, an S3 service unreachable). The shard may be intact there once
	// it is back; scrub does not try to rebuild it onto that store.
	ReasonUnavailable = "unavailable"
	// ReasonTruncated: the object does not have the size its pack implies
	// (in practice: it is shorter).
	ReasonTruncated = "truncated"
	// ReasonBadHeader: the shard header does not decode (magic, version,
	// header checksum) or describes another pack, index or layout.
	ReasonBadHeader = "bad header"
	// ReasonHashMismatch: the shard data does not match the BLAKE3 hash in
	// its header.
	ReasonHashMismatch = "hash mismatch"
	// ReasonReadError: the store failed to return the object for another
	// reason (I/O error, refused request). It may be transient.
	ReasonReadError = "read error"
	// ReasonRecordChecksum: a range read from the shard gave bytes that
	// failed the caller's verification, and a rebuild from other shards gave
	// different bytes that passed.
	ReasonRecordChecksum = "record checksum mismatch"
)

// Damage describes one damaged or unavailable shard met by a read or a
// scrub. It is reported through Options.OnDamage and one log warning every
// time an operation meets it (at most once per shard per operation), so a
// counter of reports measures how often damage got in the way.
type Damage struct {
	Repo   string
	Pack   format.ID
	Shard  int    // shard index, 0..k+m-1
	Store  uint16 // store ID the placement gives for the shard
	Reason string // one of the Reason constants
}

// reporter reports the damage one operation meets, once per shard.
type reporter struct {
	c         *Coder
	repo      string
	pack      format.ID
	placement []uint16

	mu   sync.Mutex
	seen uint64 // bit i: shard i already reported (MaxShards <= 64)
}

func (c *Coder) newReporter(repo string, pack format.ID, placement []uint16) *reporter {
	return &reporter{c: c, repo: repo, pack: pack, placement: placement}
}

// report reports shard i as damaged for reason; cause, if not nil, is
// logged (backend errors carry no paths or credentials).
func (r *reporter) report(i int, reason string, cause error) {
	r.mu.Lock()
	if r.seen&(1<<i) != 0 {
		r.mu.Unlock()
		return
	}
	r.seen |= 1 << i
	r.mu.Unlock()

	d := Damage{Repo: r.repo, Pack: r.pack, Shard: i, Store: r.placement[i], Reason: reason}
	attrs := []any{"repo", d.Repo, "pack", d.Pack.Short(), "shard", d.Shard, "store", d.Store, "reason", d.Reason}
	if cause != nil {
		attrs = append(attrs, "err", cause.Error())
	}
	r.c.log.Warn("erasure: damaged shard", attrs...)
	if r.c.onDamage != nil {
		r.c.onDamage(d)
	}
}
