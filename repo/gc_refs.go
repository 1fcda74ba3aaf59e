package repo

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/snapshot"
	"github.com/holdfast-backup/holdfast/repo/backend"
)

// RefStream reads a snapshot's reference list from a store as a stream, so
// that garbage collection can merge the lists of many large snapshots with
// bounded memory (ReadRefs reads a list whole). Next verifies the list's own
// order, count and checksum as it goes, and at the end that the object has
// the size and BLAKE3-256 the index records: a damaged list fails at the end
// at the latest, before GC acts on what it read.
type RefStream struct {
	rc   io.Closer
	cnt  *countingHash
	rr   *snapshot.RefReader
	want struct {
		size uint64
		hash [32]byte
	}
	snap format.ID
	done bool
}

// countingHash hashes and counts what passes through it.
type countingHash struct {
	r io.Reader
	h *blake3.Hasher
	n uint64
}

func (c *countingHash) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	c.n += uint64(n)
	return n, err
}

// refStreamBuffer is the read buffer per open stream: GC keeps up to its
// merge fan-in of streams open at once.
const refStreamBuffer = 64 << 10

// OpenRefs opens the reference list of snapshot s for streaming, from the
// first store whose copy opens. A copy that turns out damaged fails the
// stream rather than falling over to another copy mid-way; the caller
// retries the whole list (GC simply fails the run, changing nothing).
func (r *Repo) OpenRefs(ctx context.Context, s Snapshot) (*RefStream, error) {
	rs := &RefStream{snap: s.ID}
	ref := s.refs
	rs.want.size, rs.want.hash = ref.Size, ref.Hash
	if ref.Name == "" {
		rs.want.size, rs.want.hash = uint64(len(ref.Inline)), blake3.Sum256(ref.Inline)
		rs.cnt = &countingHash{r: bytes.NewReader(ref.Inline), h: blake3.New()}
		rs.rc = io.NopCloser(nil)
		rs.rr = snapshot.NewRefReader(rs.cnt)
		return rs, nil
	}
	var errs []error
	for _, id := range ref.Stores {
		st, ok := r.stores[id]
		if !ok {
			errs = append(errs, fmt.Errorf("store %d: not configured", id))
			continue
		}
		rc, err := st.Backend.Get(ctx, backend.Name(ref.Name), 0, -1)
		if err != nil {
			errs = append(errs, fmt.Errorf("store %d: %w", id, err))
			continue
		}
		rs.rc = rc
		rs.cnt = &countingHash{r: bufio.NewReaderSize(rc, refStreamBuffer), h: blake3.New()}
		rs.rr = snapshot.NewRefReader(rs.cnt)
		return rs, nil
	}
	err := errors.Join(errs...)
	if allNotExist(errs) {
		err = fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return nil, fmt.Errorf("snapshot %s: reference list: %s: %w", s.ID.Short(), ref.Name, err)
}

func allNotExist(errs []error) bool {
	for _, e := range errs {
		if !errors.Is(e, backend.ErrNotExist) {
			return false
		}
	}
	return len(errs) > 0
}

// Next returns the next referenced chunk ID in ascending order, or io.EOF
// after the last one once the whole object has been verified.
func (rs *RefStream) Next() (format.ID, error) {
	if rs.done {
		return format.ID{}, io.EOF
	}
	id, err := rs.rr.Next()
	if err == io.EOF {
		if rs.cnt.n != rs.want.size || [32]byte(rs.cnt.h.Sum(nil)) != rs.want.hash {
			return format.ID{}, fmt.Errorf("snapshot %s: reference list: %w", rs.snap.Short(),
				format.Corruptf("copy does not match its recorded size and hash"))
		}
		rs.done = true
		return format.ID{}, io.EOF
	}
	if err != nil {
		return format.ID{}, fmt.Errorf("snapshot %s: reference list: %w", rs.snap.Short(), err)
	}
	return id, nil
}

// Close releases the stream.
func (rs *RefStream) Close() error { return rs.rc.Close() }
