package gc

import (
	"container/heap"
	"context"
	"errors"
	"io"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/repo"
)

// A live-reference record in the union file: chunk ID, then 1 if a locked
// snapshot references it.
const refRecSize = format.IDSize + 1

// fanIn bounds how many reference streams are merged at once (each holds a
// read buffer and, on S3, a connection). More snapshots are merged in
// rounds through temporary files.
const fanIn = 64

// refSource yields chunk IDs in strictly ascending order, each with whether
// a locked snapshot references it; io.EOF at the end.
type refSource interface {
	next() (format.ID, bool, error)
	close()
}

type opener func() (refSource, error)

// snapSource streams one snapshot's reference list. A snapshot forgotten
// while GC reads it ends early: from then on nothing can commit against it,
// so its remaining references need no protection.
type snapSource struct {
	r      *repo.Repo
	repoID uint32
	s      repo.Snapshot
	locked bool
	rs     *repo.RefStream
}

func openSnapshot(ctx context.Context, r *repo.Repo, repoID uint32, s repo.Snapshot, locked bool) opener {
	return func() (refSource, error) {
		src := &snapSource{r: r, repoID: repoID, s: s, locked: locked}
		rs, err := r.OpenRefs(ctx, s)
		if err != nil {
			if src.gone() {
				return emptySource{}, nil
			}
			return nil, err
		}
		src.rs = rs
		return src, nil
	}
}

func (s *snapSource) gone() bool {
	_, err := s.r.Index().GetSnapshot(s.repoID, s.s.ID)
	return errors.Is(err, repoNotFound)
}

func (s *snapSource) next() (format.ID, bool, error) {
	id, err := s.rs.Next()
	if err != nil && err != io.EOF && s.gone() {
		return id, false, io.EOF
	}
	return id, s.locked, err
}

func (s *snapSource) close() { s.rs.Close() }

type emptySource struct{}

func (emptySource) next() (format.ID, bool, error) { return format.ID{}, false, io.EOF }
func (emptySource) close()                         {}

// fileSource reads a union file.
type fileSource struct{ rr *recReader }

func (f fileSource) next() (format.ID, bool, error) {
	rec, err := f.rr.next()
	if err != nil {
		return format.ID{}, false, err
	}
	return format.ID(rec[:format.IDSize]), rec[format.IDSize] == 1, nil
}

func (fileSource) close() {}

// union merges the reference lists behind openers into one file of
// distinct IDs, ascending. The caller closes the file.
func union(ctx context.Context, dir string, items []opener) (*recFile, error) {
	var temps []*recFile
	defer func() {
		for _, t := range temps {
			t.close()
		}
	}()
	for len(items) > fanIn {
		var next []opener
		for i := 0; i < len(items); i += fanIn {
			f, err := newRecFile(dir, ".gc-union-*", refRecSize)
			if err != nil {
				return nil, err
			}
			temps = append(temps, f)
			if err := mergeInto(ctx, items[i:min(i+fanIn, len(items))], f); err != nil {
				return nil, err
			}
			next = append(next, func() (refSource, error) {
				rr, err := f.reader()
				return fileSource{rr}, err
			})
		}
		items = next
	}
	out, err := newRecFile(dir, ".gc-live-*", refRecSize)
	if err != nil {
		return nil, err
	}
	if err := mergeInto(ctx, items, out); err != nil {
		out.close()
		return nil, err
	}
	return out, nil
}

// mergeInto writes the union of the sources to out.
func mergeInto(ctx context.Context, items []opener, out *recFile) error {
	h := &srcHeap{}
	defer func() {
		for _, it := range *h {
			it.src.close()
		}
	}()
	for _, open := range items {
		src, err := open()
		if err != nil {
			return err
		}
		if err := h.pushNext(src, nil); err != nil {
			return err
		}
	}
	var rec [refRecSize]byte
	var have bool
	for n := 0; h.Len() > 0; n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		top := heap.Pop(h).(*srcItem)
		id := top.id
		if have && format.ID(rec[:format.IDSize]) == id {
			if top.locked {
				rec[format.IDSize] = 1
			}
		} else {
			if have {
				if err := out.write(rec[:]); err != nil {
					return err
				}
			}
			copy(rec[:], id[:])
			rec[format.IDSize] = 0
			if top.locked {
				rec[format.IDSize] = 1
			}
			have = true
		}
		if err := h.pushNext(top.src, top); err != nil {
			return err
		}
	}
	if have {
		return out.write(rec[:])
	}
	return nil
}

type srcItem struct {
	id     format.ID
	locked bool
	src    refSource
}

type srcHeap []*srcItem

func (h srcHeap) Len() int           { return len(h) }
func (h srcHeap) Less(i, j int) bool { return h[i].id.Compare(h[j].id) < 0 }
func (h srcHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *srcHeap) Push(x any)        { *h = append(*h, x.(*srcItem)) }
func (h *srcHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// pushNext advances src and pushes it back (reusing it, if not nil), or
// closes it at its end.
func (h *srcHeap) pushNext(src refSource, it *srcItem) error {
	id, locked, err := src.next()
	if err == io.EOF {
		src.close()
		return nil
	}
	if err != nil {
		src.close()
		return err
	}
	if it == nil {
		it = &srcItem{}
	}
	*it = srcItem{id: id, locked: locked, src: src}
	heap.Push(h, it)
	return nil
}
