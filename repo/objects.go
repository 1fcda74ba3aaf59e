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
// min(m+1, n) consecutive stores (by ascending ID), starting at a position
// derived from the name so that copies spread over the stores.
func (r *Repo) metaStores(name string) []uint16 {
	n := len(r.order)
	copies := r.cfg.Layout.M + 1
	if copies > n {
		copies = n
	}
	h := blake3.Sum256([]byte(name))
	start := int(h[0]) % n
	ids := make([]uint16, 0, copies)
	for i := 0; i < copies; i++ {
		ids = append(ids, r.order[(start+i)%n])
	}
	slices.Sort(ids)
	return ids
}

// putMeta writes every copy of a meta object and returns the reference the
// index keeps. It succeeds only when every copy is durable. The copies are
// written at once, each by its own Put on the same payload (its readers
// are independent): a Put to a local store waits for two fsyncs, and a
// commit writes two objects of m+1 copies each, so one after the other
// they made up most of a commit's time.
func (r *Repo) putMeta(ctx context.Context, name string, p backend.Payload, hash [32]byte) (indexkey.ObjectRef, error) {
	ref := indexkey.ObjectRef{Name: name, Size: uint64(p.Len()), Hash: hash, Stores: r.metaStores(name)}
	errs := make([]error, len(ref.Stores))
	var wg sync.WaitGroup
	for i, id := range ref.Stores {
		wg.Go(func() {
			if err := r.stores[id].Backend.Put(ctx, backend.Name(name), p); err != nil {
				errs[i] = fmt.Errorf("store %d: write %s: %w", id, name, err)
			}
		})
	}
	wg.Wait()
	for _, err := range errs { // the first in store order, as before
		if err != nil {
			return ref, err
		}
	}
	return ref, nil
}

// getMeta reads a meta object from the first store whose copy has the
// recorded size and hash. Damaged copies are logged and skipped.
func (r *Repo) getMeta(ctx context.Context, ref indexkey.ObjectRef) ([]byte, error) {
	if ref.Name == "" {
		return ref.Inline, nil
	}
	var errs []error
	for _, id := range ref.Stores {
		s, ok := r.stores[id]
		if !ok {
			errs = append(errs, fmt.Errorf("store %d: not configured", id))
			continue
		}
		b, err := backend.ReadAll(ctx, s.Backend, backend.Name(ref.Name), 0, -1)
		if err == nil && (uint64(len(b)) != ref.Size || blake3.Sum256(b) != ref.Hash) {
			err = format.Corruptf("copy does not match its recorded hash")
		}
		if err != nil {
			r.log.Warn("damaged or missing meta object copy", "object", ref.Name, "store", id, "err", err)
			errs = append(errs, fmt.Errorf("store %d: %w", id, err))
			continue
		}
		return b, nil
	}
	return nil, fmt.Errorf("%s: %w on %d stores: %w", ref.Name, ErrLost, len(ref.Stores), errors.Join(errs...))
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
