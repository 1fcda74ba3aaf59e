package gc

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"time"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/repo"
	"github.com/holdfast-backup/holdfast/repo/index"
)

var repoNotFound = index.ErrNotFound

// A candidate record: chunk ID, pack ordinal (u32), record length (u32).
const candRecSize = format.IDSize + 8

// packInfo is what GC tracks per pack: the record at mark time and how many
// index entries point into it (decremented as the seal deletes them).
type packInfo struct {
	id        format.ID
	length    int64
	k, m      int
	created   time.Time
	retain    time.Time
	entries   int64 // chunk entries pointing into the pack
	bytes     int64 // their record bytes
	dead      int64 // candidates among them
	locked    bool  // holds a chunk of a locked snapshot
	touched   bool  // scratch for the seal step
	oldEnough bool  // committed before the grace cutoff
}

// marker holds the state of one run from mark to the end.
type marker struct {
	r      *repo.Repo
	repoID uint32
	opts   Options
	now    time.Time
	cutoff time.Time // packs created before this are collectable
	dir    string
	rep    *Report

	known  map[format.ID]bool // snapshots accounted for
	locked map[format.ID]bool // snapshots locked at mark start
	packs  []packInfo
	ord    map[format.ID]uint32
	cands  *recFile
}

// mark takes S0 (the snapshots in the index now), merges their reference
// lists into the live set, and scans the chunk index against it, writing
// every unreferenced chunk of an old-enough pack to the candidate file.
// It takes no lock: snapshots committed meanwhile are handled by the seal.
func (m *marker) mark(ctx context.Context) error {
	if err := m.loadLocks(); err != nil {
		return err
	}
	var items []opener
	err := m.r.Snapshots(ctx, m.repoID, func(s repo.Snapshot) error {
		m.known[s.ID] = true
		locked := m.locked[s.ID]
		if locked {
			m.rep.SnapshotsLocked++
		}
		items = append(items, openSnapshot(ctx, m.r, m.repoID, s, locked))
		return nil
	})
	if err != nil {
		return err
	}
	m.rep.Snapshots = len(items)
	m.opts.step("mark: snapshots listed")
	live, err := union(ctx, m.dir, items)
	if err != nil {
		return err
	}
	defer live.close()
	m.opts.progress("mark", 1, 3)
	m.opts.step("mark: references merged")
	if err := m.loadPacks(); err != nil {
		return err
	}
	m.opts.step("mark: packs listed")
	if err := m.scanChunks(ctx, live); err != nil {
		return err
	}
	m.opts.progress("mark", 3, 3)
	m.opts.step("mark: chunks scanned")
	return nil
}

// loadLocks records the snapshots under an unexpired lock.
func (m *marker) loadLocks() error {
	return m.r.Index().Locks(m.repoID, func(snap format.ID, l indexkey.LockRecord) error {
		if l.Until.After(m.now) {
			m.locked[snap] = true
		}
		return nil
	})
}

// loadPacks reads every pack record. Packs committed after this are not in
// the table, and their chunks are never candidates.
func (m *marker) loadPacks() error {
	return m.r.Index().Packs(m.repoID, func(id format.ID, p indexkey.PackRecord) error {
		m.ord[id] = uint32(len(m.packs))
		m.packs = append(m.packs, packInfo{
			id: id, length: p.Length, k: p.K, m: p.M, created: p.Created, retain: p.RetainUntil,
			oldEnough: p.Created.Before(m.cutoff),
		})
		return nil
	})
}

// scanChunks walks the chunk index and the live set together, both in ID
// order.
func (m *marker) scanChunks(ctx context.Context, live *recFile) error {
	lr, err := live.reader()
	if err != nil {
		return err
	}
	cands, err := newRecFile(m.dir, ".gc-cand-*", candRecSize)
	if err != nil {
		return err
	}
	m.cands = cands
	var next format.ID
	var nextLocked, more = false, true
	advance := func() error {
		rec, err := lr.next()
		if err == io.EOF {
			more = false
			return nil
		}
		if err != nil {
			return err
		}
		next, nextLocked = format.ID(rec[:format.IDSize]), rec[format.IDSize] == 1
		return nil
	}
	if err := advance(); err != nil {
		return err
	}
	var rec [candRecSize]byte
	var n int64
	return m.r.Index().Chunks(m.repoID, func(id format.ID, loc indexkey.ChunkLoc) error {
		if n++; n%65536 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		m.rep.Chunks++
		for more && next.Compare(id) < 0 {
			if err := advance(); err != nil {
				return err
			}
		}
		referenced := more && next == id
		o, ok := m.ord[loc.Pack]
		if !ok {
			// A pack committed after loadPacks: new, so never collected.
			if referenced {
				m.rep.ChunksLive++
			} else {
				m.rep.ChunksYoung++
			}
			return nil
		}
		p := &m.packs[o]
		p.entries++
		p.bytes += int64(loc.Length)
		switch {
		case referenced:
			m.rep.ChunksLive++
			p.locked = p.locked || nextLocked
		case !p.oldEnough:
			m.rep.ChunksYoung++
		default:
			copy(rec[:], id[:])
			binary.BigEndian.PutUint32(rec[format.IDSize:], o)
			binary.BigEndian.PutUint32(rec[format.IDSize+4:], loc.Length)
			p.dead++
			m.rep.ChunksDead++
			return cands.write(rec[:])
		}
		return nil
	})
}

// errStop ends a scan early.
var errStop = errors.New("stop")
