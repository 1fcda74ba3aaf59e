package index

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/repo/index/internal/uring"
)

// pscratch is the presence path's part of a Missing call's scratch.
type pscratch struct {
	found   []bool       // by position in order
	maybe   []bool       // by position in order: a put filter may hold it
	confirm []int        // positions Pebble must settle
	pending []int        // positions in order the table must answer
	reads   []uring.Read // one per span range
	owners  []int        // reads[k] answers pending[owners[k]:owners[k+1]]
	buf     []byte       // one window of one-span reads
}

// lookup sets bit i of s.have for every present ids[i], from the changes
// and the table, with s.order already sorted. It reports false, having
// set nothing, when there is no table to answer from; the caller then
// asks Pebble.
func (p *presence) lookup(repo uint32, ids []format.ID, s *scratch) bool {
	if p == nil {
		return false
	}
	p.maybeBuild()
	t, ok := p.fromDeltas(repo, ids, s)
	if !ok {
		return false
	}
	defer t.release()
	if err := p.fromTable(t, repo, ids, s); err != nil {
		p.mu.Lock()
		if p.table == t {
			p.dropLocked(err.Error())
		}
		p.mu.Unlock()
		return false
	}
	ps := &s.p
	if !p.putSince(t, repo, ids, s) {
		return false // a new table, or none: Pebble answers the batch
	}
	if err := p.fromPebble(repo, ids, s); err != nil {
		return false // Missing asks Pebble for the whole batch, and reports its error
	}
	finishDuplicates(s, ids)
	for n, o := range s.order {
		if ps.found[n] {
			s.have[o.i>>6] |= 1 << (o.i & 63)
		}
	}
	p.mu.Lock()
	p.stats.answered += int64(len(ids))
	p.stats.reads += int64(len(ps.reads))
	p.mu.Unlock()
	return true
}

// fromDeltas answers absent for the IDs deleted since the table's
// snapshot, leaves the positions of the others in s.p.pending, and
// returns the table (acquired) that must answer them. A repeated ID is
// answered once, by its first position.
func (p *presence) fromDeltas(repo uint32, ids []format.ID, s *scratch) (*ptable, bool) {
	ps := &s.p
	ps.found = slices.Grow(ps.found[:0], len(s.order))[:len(s.order)]
	ps.maybe = slices.Grow(ps.maybe[:0], len(s.order))[:len(s.order)]
	clear(ps.found)
	clear(ps.maybe)
	ps.pending = ps.pending[:0]
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.table
	if t == nil {
		return nil, false
	}
	t.acquire()
	deleted := len(p.deleted) > 0 || len(p.frozenDeleted) > 0
	for n, o := range s.order {
		if n > 0 && ids[o.i] == ids[s.order[n-1].i] {
			continue
		}
		ref := chunkRef{repo, ids[o.i]}
		if deleted {
			if _, ok := p.deleted[ref]; ok {
				continue
			}
			if _, ok := p.frozenDeleted[ref]; ok {
				continue
			}
		}
		ps.pending = append(ps.pending, n)
	}
	return t, true
}

// putSince marks the IDs that t does not hold but that a put filter may:
// put since t's snapshot (or a false positive). It looks only at IDs the
// table left absent, which spares present IDs a cache miss, and so it
// runs after the table's reads, under a second hold of mu. It reports
// false if t is no longer the installed table: its put filters are then
// gone, and an ID put since t's snapshot could be called missing, which a
// snapshot commit's reference check would refuse.
func (p *presence) putSince(t *ptable, repo uint32, ids []format.ID, s *scratch) bool {
	ps := &s.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.table != t {
		return false
	}
	for _, n := range ps.pending {
		if !ps.found[n] {
			ref := chunkRef{repo, ids[s.order[n].i]}
			ps.maybe[n] = p.puts.mayContain(&ref) || p.frozenPuts.mayContain(&ref)
		}
	}
	return true
}

// fromPebble settles the IDs the table does not hold but a put filter
// may: put since the table's snapshot, or a false positive.
func (p *presence) fromPebble(repo uint32, ids []format.ID, s *scratch) error {
	ps := &s.p
	ps.confirm = ps.confirm[:0]
	for _, n := range ps.pending {
		if ps.maybe[n] && !ps.found[n] {
			ps.confirm = append(ps.confirm, n)
		}
	}
	if len(ps.confirm) == 0 {
		return nil
	}
	p.mu.Lock()
	p.stats.confirmed += int64(len(ps.confirm))
	p.mu.Unlock()
	return p.confirm(repo, ids, s, ps.confirm)
}

// fromTable answers s.p.pending from t: the filter rules most absent IDs
// out, and each remaining ID costs the read of the span its fence points
// at, shared with its neighbours in the same span. Reads go out a ring
// at a time.
func (p *presence) fromTable(t *ptable, repo uint32, ids []format.ID, s *scratch) error {
	ps := &s.p
	rt := t.repos[repo]
	ps.reads, ps.owners = ps.reads[:0], ps.owners[:0]
	if rt == nil {
		return nil
	}
	slots := t.windowSlots()
	window := slots * t.spanBytes()
	ps.buf = slices.Grow(ps.buf[:0], window)[:window]
	r := p.getReader()
	defer p.putReader(r)
	p.ring.Store(r.Ring())
	var lastFrom, lastTo int64 = -1, -1
	fence := 0   // where the previous ID's fence search ended
	flushed := 0 // reads before this index are settled
	for k, n := range ps.pending {
		id := &ids[s.order[n].i]
		if len(rt.filter.blocks) > 0 && !rt.filter.mayContain(id) {
			continue
		}
		// pending is in ascending ID order, so the fences below the
		// previous ID's are below this one's too.
		var from, to int64
		from, to, fence = rt.records(id, t.span, fence)
		if from == to || from == lastFrom && to == lastTo {
			continue // below the first ID, or the previous read covers it
		}
		ps.owners = append(ps.owners, k)
		if len(ps.reads)-flushed == slots {
			if err := p.settle(t, r, s, ids, flushed); err != nil {
				return err
			}
			flushed = len(ps.reads)
		}
		ps.reads = append(ps.reads, t.readOf(from, to, ps.buf, len(ps.reads)-flushed))
		lastFrom, lastTo = from, to
	}
	ps.owners = append(ps.owners, len(ps.pending))
	return p.settle(t, r, s, ids, flushed)
}

// maxWindow bounds the buffer of one window of reads: spans grow past 16
// IDs only when the memory bound is small for the chunks.
const maxWindow = 1 << 20

// windowSlots is how many one-span reads go out at a time: a ring's worth,
// unless that would take more than maxWindow of buffer.
func (t *ptable) windowSlots() int {
	return min(max(maxWindow/t.spanBytes(), 1), ringEntries)
}

// readOf is the read of file records [from, to): the slot-th span-sized
// piece of buf when it fits, a buffer of its own when fences left an ID
// between spans (several spans start with the same 8 bytes).
func (t *ptable) readOf(from, to int64, buf []byte, slot int) uring.Read {
	n := int((to - from) * format.IDSize)
	b := buf[slot*t.spanBytes():]
	if n > t.spanBytes() {
		b = make([]byte, n)
	}
	return uring.Read{Off: from * format.IDSize, Buf: b[:n:n]}
}

// settle performs reads[from:] and answers the pending IDs they cover:
// read k answers pending[owners[k]:owners[k+1]]. IDs the filter ruled out
// fall in those ranges too; they are not in the span, so they stay absent.
func (p *presence) settle(t *ptable, r *uring.Reader, s *scratch, ids []format.ID, from int) error {
	ps := &s.p
	batch := ps.reads[from:]
	if len(batch) == 0 {
		return nil
	}
	ring := r.Ring()
	if err := r.ReadBatch(t.fd, batch); err != nil {
		return err
	}
	if ring && !r.Ring() {
		// The ring failed during the batch. A read it abandoned may still
		// land in buf later, so buf is never used again, and this
		// batch's answers are not trusted either.
		ps.buf = nil
		return errors.New("presence table: io_uring failed during a lookup")
	}
	for k := range batch {
		rd := &batch[k]
		if rd.Err != nil || rd.N != len(rd.Buf) {
			return fmt.Errorf("presence table read at %d: %d of %d bytes: %v", rd.Off, rd.N, len(rd.Buf), rd.Err)
		}
		for _, n := range ps.pending[ps.owners[from+k]:ps.owners[from+k+1]] {
			ps.found[n] = containsID(rd.Buf, &ids[s.order[n].i])
		}
	}
	return nil
}

// finishDuplicates copies each answer to the repeats of its ID, which sit
// right after it in order.
func finishDuplicates(s *scratch, ids []format.ID) {
	ps := &s.p
	for n := 1; n < len(s.order); n++ {
		if ids[s.order[n].i] == ids[s.order[n-1].i] {
			ps.found[n] = ps.found[n-1]
		}
	}
}

// records returns the file records [from, to) that hold id if rt holds
// it: the span whose fence is the last below id's first 8 bytes (its
// head) or, when fences equal the head, the spans they start, and the one
// before if its last ID has that head too (the straddle bit).
//
// lo is a lower bound for the search: every fence below it is at most
// id's head. A batch passes the hi of its previous (smaller) ID; it
// returns this ID's.
func (rt *repoTable) records(id *format.ID, span int64, lo int) (from, to int64, hi int) {
	head := binary.BigEndian.Uint64(id[:8])
	hi = searchFences(rt.fences, head, lo)
	if hi == 0 {
		return 0, 0, 0 // below the first ID
	}
	first := hi - 1
	if rt.fences[first] == head {
		first = sort.Search(hi, func(i int) bool { return rt.fences[i] >= head })
		if first > 0 && rt.straddle[first/64]&(1<<(first%64)) != 0 {
			first--
		}
	}
	from = rt.start + int64(first)*span
	to = rt.start + min(int64(hi)*span, rt.n)
	return from, to, hi
}

// containsID reports whether the sorted IDs in b include id. It searches
// their first 8 bytes as integers, without a comparison function: this
// runs once per present ID in a lookup, where bytes.Compare through
// sort.Search took about 8% of the CPU, as much as the filter probe.
func containsID(b []byte, id *format.ID) bool {
	head := binary.BigEndian.Uint64(id[:8])
	lo, hi := 0, len(b)/format.IDSize
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if binary.BigEndian.Uint64(b[m*format.IDSize:]) < head {
			lo = m + 1
		} else {
			hi = m
		}
	}
	// Several IDs may share the head; they sit together from lo on.
	for off := lo * format.IDSize; off+format.IDSize <= len(b); off += format.IDSize {
		rec := b[off : off+format.IDSize]
		if binary.BigEndian.Uint64(rec) != head {
			return false
		}
		if bytes.Equal(rec, id[:]) {
			return true
		}
	}
	return false
}
