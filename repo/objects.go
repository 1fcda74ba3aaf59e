package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/repo/backend"
	"github.com/holdfast-backup/holdfast/repo/erasure"
)

// Meta objects are the small, critical objects that are not packs: a
// repository's record, its key files, snapshot headers and reference lists,
// and locks. They are whole copies on min(m+1, stores) stores, so they
// survive as many store losses as the packs do, and rebuild-index finds them
// by listing (SPEC.md §10.8).

func repoObject(repo string) string { return repo + "/repo" }

func headerObject(repo string, id format.ID) string {
	return repo + "/snapshots/" + id.String() + ".hdr"
}

func refsObject(repo string, id format.ID) string {
	return repo + "/snapshots/" + id.String() + ".refs"
}

func keyFileObject(repo string, id format.ID) string { return repo + "/keys/" + id.String() }

// metaStores returns the stores that keep copies of the meta object name:
// the first min(m+1, n) stores of metaRing, by ascending ID.
func (r *Repo) metaStores(name string) []uint16 {
	ring := r.metaRing(name)
	ids := slices.Clone(ring[:min(r.cfg.Layout.M+1, len(ring))])
	slices.Sort(ids)
	return ids
}

// metaRing returns every store in the order the copies of the meta object
// name go to them: consecutive stores (by ascending ID) from a position
// derived from the name, so that copies spread over the stores. The first
// m+1 hold the copies; a copy whose store fails a put goes to the next
// one (putMeta).
func (r *Repo) metaRing(name string) []uint16 {
	n := len(r.order)
	h := blake3.Sum256([]byte(name))
	start := int(h[0]) % n
	ids := make([]uint16, n)
	for i := range ids {
		ids[i] = r.order[(start+i)%n]
	}
	return ids
}

// putMeta writes every copy of a meta object and returns the reference the
// index keeps. The copies are written at once, each by its own Put on the
// same payload (its readers are independent): a Put to a local store waits
// for two fsyncs, and a commit writes two objects of m+1 copies each, so one
// after the other they made up most of a commit's time.
//
// A copy whose store fails goes to the next store of metaRing that holds
// none (SPEC.md §10.8), as pack shards go around a failed store; so does
// a copy whose put is still running long after another copy was durable
// (the coder's straggler rule: a store that stops answering would
// otherwise hold the commit for the S3 client's timeouts). Stores that
// pack writes pass over after a failed put are tried last, and a failed
// copy makes pack writes pass its store over too. It succeeds only when m+1 copies (or one per store, with fewer stores) are
// durable; the reference lists where they are.
func (r *Repo) putMeta(ctx context.Context, name string, p backend.Payload, hash [32]byte) (indexkey.ObjectRef, error) {
	ring := r.writableFirst(r.metaRing(name))
	copies := min(r.cfg.Layout.M+1, len(ring))
	watch := r.coder.Stragglers(1)
	put := func(id uint16) error {
		actx, end := watch.Begin(ctx)
		err := r.stores[id].Backend.Put(actx, backend.Name(name), p)
		end(err == nil)
		if gave := erasure.GaveUp(actx); gave != nil && ctx.Err() == nil {
			err = gave
		}
		switch {
		case err == nil:
			r.coder.PutSucceeded(id)
			return nil
		case ctx.Err() == nil:
			r.coder.PutFailed(id, err)
		}
		return fmt.Errorf("store %d: write %s: %w", id, name, err)
	}
	errs := make([]error, copies)
	var wg sync.WaitGroup
	for i, id := range ring[:copies] {
		wg.Go(func() { errs[i] = put(id) })
	}
	wg.Wait()
	var held []uint16
	var firstErr error
	for i, err := range errs {
		if err == nil {
			held = append(held, ring[i])
		} else if firstErr == nil {
			firstErr = err
		}
	}
	// Spill what failed to the rest of the ring, one store at a time: a
	// failure is rare, and each spare store is tried at most once.
	for _, id := range ring[copies:] {
		if len(held) == copies || ctx.Err() != nil {
			break
		}
		if err := put(id); err != nil {
			continue
		}
		r.log.Warn("meta object copy written to a spare store", "object", name, "store", id)
		held = append(held, id)
	}
	slices.Sort(held)
	ref := indexkey.ObjectRef{Name: name, Size: uint64(p.Len()), Hash: hash, Stores: held}
	if len(held) < copies {
		return ref, fmt.Errorf("%w (%d of %d copies written, no other store took one)", firstErr, len(held), copies)
	}
	return ref, nil
}

// writableFirst orders ring so that the stores new writes pass over come
// last, keeping the order otherwise.
func (r *Repo) writableFirst(ring []uint16) []uint16 {
	return moveLast(ring, r.coder.WritesPassOver)
}

// moveLast returns ids with those for which last is true moved to the end,
// each part in its order.
func moveLast(ids []uint16, last func(uint16) bool) []uint16 {
	out := make([]uint16, 0, len(ids))
	var moved []uint16
	for _, id := range ids {
		if last(id) {
			moved = append(moved, id)
		} else {
			out = append(out, id)
		}
	}
	return append(out, moved...)
}

// getMeta reads a meta object from the first store whose copy has the
// recorded size and hash, looking on the stores the reference names first
// and then on the spare ones (metaCandidates). Damaged copies are logged
// and skipped.
func (r *Repo) getMeta(ctx context.Context, ref indexkey.ObjectRef) ([]byte, error) {
	if ref.Name == "" {
		return ref.Inline, nil
	}
	return r.readMeta(ctx, ref, r.metaCandidates(ref))
}

// metaCandidates returns where to look for copies of a meta object: the
// stores its reference names, then the other stores of its ring, where
// putMeta spills copies when a store fails and where a reference computed
// from the name (metaStores) does not look.
func (r *Repo) metaCandidates(ref indexkey.ObjectRef) []uint16 {
	out := slices.Clone(ref.Stores)
	for _, id := range r.metaRing(ref.Name) {
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// spool buffers a stream that must be written as one object: in memory up
// to spoolMemory bytes, then in a temporary file in the data directory, so
// a 320 MB reference list does not sit in RAM.
type spool struct {
	dir  string
	buf  bytes.Buffer
	file *os.File
	n    int64
}

const spoolMemory = 8 << 20

func (s *spool) Write(p []byte) (int, error) {
	s.n += int64(len(p))
	if s.file == nil && s.buf.Len()+len(p) <= spoolMemory {
		return s.buf.Write(p)
	}
	if s.file == nil {
		f, err := os.CreateTemp(s.dir, ".spool-*")
		if err != nil {
			return 0, fmt.Errorf("spool: %w", errors.Unwrap(err))
		}
		s.file = f
		if _, err := f.Write(s.buf.Bytes()); err != nil {
			return 0, fmt.Errorf("spool: %w", err)
		}
		s.buf = bytes.Buffer{}
	}
	return s.file.Write(p)
}

// Len implements backend.Payload.
func (s *spool) Len() int64 { return s.n }

// Open implements backend.Payload: every call reads from the start.
func (s *spool) Open() io.Reader {
	if s.file == nil {
		return bytes.NewReader(s.buf.Bytes())
	}
	return io.NewSectionReader(s.file, 0, s.n)
}

// Close removes the temporary file, if any.
func (s *spool) Close() {
	if s.file != nil {
		name := s.file.Name()
		s.file.Close()
		os.Remove(name)
	}
}

func hashOf(b []byte) [32]byte { return blake3.Sum256(b) }

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func sortedUnique(ids []uint16) []uint16 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}
