package gc

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/repo"
)

// cand is one candidate of the current slice.
type cand struct {
	id     format.ID
	pack   uint32
	length uint32
	keep   bool
}

// excluder streams the references of a snapshot committed after S0; the
// candidates it names are kept.
type excluder struct {
	src  refSource
	head format.ID
	done bool
}

// advance moves the excluder to its first ID >= id and reports whether
// that ID is id.
func (e *excluder) advance(id format.ID) (bool, error) {
	for !e.done && e.head.Compare(id) < 0 {
		next, _, err := e.src.next()
		if err == io.EOF {
			e.done = true
			e.src.close()
			break
		}
		if err != nil {
			return false, err
		}
		e.head = next
	}
	return !e.done && e.head == id, nil
}

// seal decides and deletes the candidates slice by slice (SPEC.md §13.6).
// Each slice is handled in one exclusive hold of the guard: pick up the
// snapshots committed since the last look, keep every candidate they
// reference or a session pins, delete the rest in one synced batch. In a
// dry run nothing is held and nothing deleted.
func (m *marker) seal(ctx context.Context) error {
	cr, err := m.cands.reader()
	if err != nil {
		return err
	}
	var excl []*excluder
	defer func() {
		for _, e := range excl {
			if !e.done {
				e.src.close()
			}
		}
	}()
	buf := make([]cand, 0, sliceSize)
	var done int64
	for {
		buf = buf[:0]
		for len(buf) < sliceSize {
			rec, err := cr.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			buf = append(buf, cand{
				id:     format.ID(rec[:format.IDSize]),
				pack:   binary.BigEndian.Uint32(rec[format.IDSize:]),
				length: binary.BigEndian.Uint32(rec[format.IDSize+4:]),
			})
		}
		if len(buf) == 0 {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		m.opts.step("seal: before slice")
		if excl, err = m.sealSlice(ctx, buf, excl); err != nil {
			return err
		}
		done += int64(len(buf))
		m.opts.progress("seal", done, m.rep.ChunksDead)
		m.opts.step("seal: after slice")
	}
}

// sealSlice is one exclusive hold.
func (m *marker) sealSlice(ctx context.Context, buf []cand, excl []*excluder) ([]*excluder, error) {
	if !m.opts.DryRun {
		release := m.r.GCExclusive(m.repoID)
		defer release()
	}
	excl, err := m.newSnapshots(ctx, excl)
	if err != nil {
		return excl, err
	}
	for i := range buf {
		for _, e := range excl {
			hit, err := e.advance(buf[i].id)
			if err != nil {
				return excl, err
			}
			if hit && !buf[i].keep {
				buf[i].keep = true
				m.rep.ChunksNewRefs++
			}
		}
	}
	err = m.r.Index().PinsInRange(m.repoID, buf[0].id, buf[len(buf)-1].id, func(id format.ID) error {
		i, ok := slices.BinarySearchFunc(buf, id, func(c cand, id format.ID) int { return c.id.Compare(id) })
		if ok && !buf[i].keep {
			buf[i].keep = true
			m.rep.ChunksPinned++
		}
		return nil
	})
	if err != nil {
		return excl, err
	}
	return excl, m.sweep(buf)
}

// newSnapshots opens an excluder for every snapshot in the index that the
// run has not accounted for yet. Called under the guard, so the list it
// sees is complete until the guard is released.
func (m *marker) newSnapshots(ctx context.Context, excl []*excluder) ([]*excluder, error) {
	var fresh []repo.Snapshot
	err := m.r.Index().Snapshots(m.repoID, func(id format.ID, _ indexkey.SnapshotRecord) error {
		if !m.known[id] {
			fresh = append(fresh, repo.Snapshot{ID: id})
		}
		return nil
	})
	if err != nil {
		return excl, err
	}
	for _, s := range fresh {
		full, err := m.r.GetSnapshot(ctx, m.repoID, s.ID)
		if errors.Is(err, repo.ErrNotFound) {
			continue // forgotten again already
		}
		if err != nil {
			return excl, err
		}
		src, err := openSnapshot(ctx, m.r, m.repoID, full, false)()
		if err != nil {
			return excl, err
		}
		m.known[s.ID] = true
		m.rep.SnapshotsNew++
		excl = append(excl, &excluder{src: src})
	}
	return excl, nil
}

// sweep deletes the slice's unkept candidates and updates their packs'
// live counts, in one synced batch.
func (m *marker) sweep(buf []cand) error {
	var b interface {
		DeleteChunk(uint32, format.ID)
		PutPack(uint32, format.ID, indexkey.PackRecord)
		Commit(bool) error
		Close()
	}
	if !m.opts.DryRun {
		ib := m.r.Index().NewBatch()
		defer ib.Close()
		b = ib
	}
	var touched []uint32
	for _, c := range buf {
		p := &m.packs[c.pack]
		p.dead--
		if c.keep {
			continue
		}
		p.entries--
		p.bytes -= int64(c.length)
		m.rep.ChunksFreed++
		m.rep.BytesDead += int64(c.length)
		if !p.touched {
			p.touched = true
			touched = append(touched, c.pack)
		}
		if b != nil {
			b.DeleteChunk(m.repoID, c.id)
		}
	}
	for _, o := range touched {
		p := &m.packs[o]
		p.touched = false
		if b == nil {
			continue
		}
		rec, err := m.r.Index().GetPack(m.repoID, p.id)
		if err != nil {
			return fmt.Errorf("gc: pack %s: %w", p.id.Short(), err)
		}
		rec.LiveBytes, rec.LiveCount = uint64(p.bytes), uint64(p.entries)
		b.PutPack(m.repoID, p.id, rec)
	}
	if b == nil {
		return nil
	}
	return b.Commit(true)
}
