//go:build unix

package uring

import (
	"errors"
	"math"
	"runtime"

	"golang.org/x/sys/unix"
)

// Read is one positioned read of len(Buf) bytes at Off.
type Read struct {
	Off int64
	Buf []byte
	N   int   // set by ReadBatch: bytes read (less than len(Buf) only at end of file)
	Err error // set by ReadBatch: this read's error, or nil
}

// Reader performs batches of reads; not safe for concurrent use (callers pool them).
type Reader struct {
	ring     *ring           // nil: pread
	cleanup  runtime.Cleanup // closes ring if the Reader is dropped unclosed
	ringErr  error           // why there is no ring (setup or mid-batch failure)
	closed   bool
	inflight []Read // the batch the kernel may be writing into; see ReadBatch
}

// ErrClosed is returned by ReadBatch on a closed Reader.
var ErrClosed = errors.New("uring: reader is closed")

// maxEntries bounds a ring: 4096 reads per system call is already far past
// the point where the call's fixed cost stops mattering, and rings are
// kernel memory.
const maxEntries = 4096

// Read states while a batch runs, kept in Read.Err so that the batch needs
// no memory of its own. ReadBatch never returns with either of them set.
var (
	errPending  = errors.New("uring: read not yet submitted")
	errInFlight = errors.New("uring: read submitted")
)

// NewReader returns a Reader whose ring holds up to entries submissions (rounded as the kernel does; clamp to [1, 4096]).
// It never fails: when io_uring cannot be set up, the Reader uses pread.
func NewReader(entries int) *Reader {
	return newReader(entries, true)
}

// newReader is NewReader with the ring optional, so that tests can compare
// the pread path with the ring on the same machine.
func newReader(entries int, useRing bool) *Reader {
	r := &Reader{}
	if !useRing {
		r.ringErr = errors.ErrUnsupported
		return r
	}
	q, err := newRing(min(max(entries, 1), maxEntries))
	if err != nil {
		r.ringErr = err
		return r
	}
	r.ring = q
	r.cleanup = runtime.AddCleanup(r, func(q *ring) { _ = q.close() }, q)
	return r
}

// Ring reports whether the Reader uses io_uring (false: pread fallback).
func (r *Reader) Ring() bool {
	return r.ring != nil
}

// ReadBatch performs every read in reads against file descriptor fd and fills in N and Err.
// It returns a non-nil error only if the Reader is closed. If the ring itself fails mid-batch
// (io_uring_enter returns an error other than EINTR/EAGAIN/EBUSY), the Reader permanently switches
// to pread and completes the remaining reads that way, so the caller always gets every read answered.
// Reads that return fewer bytes than asked must be retried for the rest unless the result was 0 (EOF),
// so that N < len(Buf) means end of file.
func (r *Reader) ReadBatch(fd int, reads []Read) error {
	if r.closed {
		return ErrClosed
	}
	if start(fd, reads) == 0 {
		return nil
	}
	if r.ring != nil {
		// The kernel writes into the buffers at addresses taken when the
		// reads were queued, so they must not move: a buffer on a
		// goroutine stack would, if the stack grew while a read was in
		// flight. Storing reads in the Reader makes them and everything
		// they point to escape to the heap, where nothing moves, whatever
		// escape analysis concludes about the rest of this code.
		r.inflight = reads
		err := r.ring.run(fd, reads)
		r.inflight = nil
		runtime.KeepAlive(reads) // every completion has been reaped (or the buffer pinned)
		if err != nil {
			r.dropRing(err)
		}
	}
	finish(fd, reads)
	return nil
}

// dropRing switches the Reader to pread for good after the ring failed.
func (r *Reader) dropRing(err error) {
	r.cleanup.Stop()
	_ = r.ring.close()
	r.ring, r.ringErr = nil, err
}

// Close releases the ring (munmap, close). Calls after the first do nothing.
func (r *Reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.ring == nil {
		return nil
	}
	r.cleanup.Stop()
	err := r.ring.close()
	r.ring = nil
	return err
}

// start resets every read and marks the ones that need the kernel as
// pending; it returns how many do. Reads that cannot succeed are answered
// here, the same way on both paths.
func start(fd int, reads []Read) (pending int) {
	for i := range reads {
		rd := &reads[i]
		rd.N, rd.Err = 0, nil
		switch {
		case len(rd.Buf) == 0:
			// Nothing to read: no submission, not even to check fd.
		case rd.Off < 0:
			// To io_uring an offset of -1 means "the file position";
			// pread rejects any negative offset, and so do we.
			rd.Err = unix.EINVAL
		case fd < 0 || fd > math.MaxInt32:
			// The kernel takes fd as 32 bits; a larger int would be
			// truncated into some other, possibly open, descriptor.
			rd.Err = unix.EBADF
		default:
			rd.Err = errPending
			pending++
		}
	}
	return pending
}

// finish completes with pread every read the ring did not: all of them
// when there is no ring, those left after a ring failure, and those that
// kept asking to be retried.
func finish(fd int, reads []Read) {
	for i := range reads {
		if rd := &reads[i]; rd.Err == errPending || rd.Err == errInFlight {
			preadRest(fd, rd)
		}
	}
}

// preadRest reads the rest of rd (from rd.N) with pread, looping on short
// reads so that only end of file leaves the buffer partly filled.
func preadRest(fd int, rd *Read) {
	for rd.N < len(rd.Buf) {
		n, err := unix.Pread(fd, rd.Buf[rd.N:], rd.Off+int64(rd.N))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			rd.Err = err
			return
		}
		if n == 0 {
			break
		}
		rd.N += n
	}
	rd.Err = nil
}
