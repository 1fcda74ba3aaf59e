//go:build linux

package uring

import (
	"math/rand/v2"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"unsafe"
)

// enterHook wraps a ring's io_uring_enter with fail, which sees each call
// (numbered from 1) and either answers it or passes it on.
func enterHook(t *testing.T, r *Reader, fail func(call int, toSubmit, minComplete uint32, real func(uint32, uint32) (int, error)) (int, error)) {
	t.Helper()
	requireRing(t, r)
	real, call := r.ring.enter, 0
	r.ring.enter = func(toSubmit, minComplete uint32) (int, error) {
		call++
		return fail(call, toSubmit, minComplete, real)
	}
}

// TestRingFailureFallsBack: when io_uring_enter fails for good mid-batch,
// the batch still completes correctly and the Reader stays on pread.
func TestRingFailureFallsBack(t *testing.T) {
	f := testFile(t, testFileSize)
	for _, inFlight := range []bool{false, true} {
		r := NewReader(8)
		enterHook(t, r, func(call int, toSubmit, minComplete uint32, real func(uint32, uint32) (int, error)) (int, error) {
			switch {
			case call < 3:
				return real(toSubmit, minComplete)
			case call == 3 && inFlight:
				// Submit without waiting, so reads may be in flight
				// when the next call fails.
				return real(toSubmit, 0)
			default:
				return 0, syscall.EFAULT
			}
		})
		reads := randomReads(5, testFileSize, 1000)
		if err := r.ReadBatch(int(f.Fd()), reads); err != nil {
			t.Fatal(err)
		}
		checkReads(t, f, reads)
		if r.Ring() || r.ringErr != syscall.EFAULT {
			t.Fatalf("after a failed io_uring_enter: Ring() = %v, ringErr = %v", r.Ring(), r.ringErr)
		}
		reads = randomReads(6, testFileSize, 100)
		if err := r.ReadBatch(int(f.Fd()), reads); err != nil {
			t.Fatal(err)
		}
		checkReads(t, f, reads)
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRingTransientErrors: EINTR, EAGAIN and EBUSY from io_uring_enter, and
// submissions the kernel takes only partly, are retried on the ring.
func TestRingTransientErrors(t *testing.T) {
	f := testFile(t, testFileSize)
	r := NewReader(32)
	defer r.Close()
	errs := []error{syscall.EINTR, syscall.EAGAIN, syscall.EBUSY}
	enterHook(t, r, func(call int, toSubmit, minComplete uint32, real func(uint32, uint32) (int, error)) (int, error) {
		switch call % 4 {
		case 0:
			// Take a single SQE, as the kernel may when short of memory;
			// it then returns without waiting.
			return real(min(toSubmit, 1), 0)
		default:
			return 0, errs[call%4-1]
		}
	})
	reads := randomReads(8, testFileSize, 500)
	if err := r.ReadBatch(int(f.Fd()), reads); err != nil {
		t.Fatal(err)
	}
	checkReads(t, f, reads)
	if !r.Ring() {
		t.Fatalf("transient errors made the Reader fall back: %v", r.ringErr)
	}
}

// TestRingStallGivesUp: an io_uring_enter that keeps answering EAGAIN
// without progress ends in the pread fallback, not a hang.
func TestRingStallGivesUp(t *testing.T) {
	f := testFile(t, testFileSize)
	r := NewReader(8)
	defer r.Close()
	enterHook(t, r, func(int, uint32, uint32, func(uint32, uint32) (int, error)) (int, error) {
		return 0, syscall.EAGAIN
	})
	reads := randomReads(10, testFileSize, 50)
	if err := r.ReadBatch(int(f.Fd()), reads); err != nil {
		t.Fatal(err)
	}
	checkReads(t, f, reads)
	if r.Ring() {
		t.Fatal("Reader kept a ring that never makes progress")
	}
}

// TestComplete covers the CQE results the kernel rarely produces for
// files in the page cache.
func TestComplete(t *testing.T) {
	for _, c := range []struct {
		res   int32
		n     int // N before
		retry bool
		wantN int
		err   error
	}{
		{res: 10, wantN: 10},
		{res: 4, retry: true, wantN: 4, err: errPending}, // short: the rest again
		{res: 6, n: 4, wantN: 10},                        // the rest
		{res: 0, n: 4, wantN: 4},                         // end of file
		{res: -int32(syscall.EINTR), retry: true, err: errPending},
		{res: -int32(syscall.EAGAIN), n: 2, retry: true, wantN: 2, err: errPending},
		{res: -int32(syscall.EIO), n: 2, wantN: 2, err: syscall.EIO},
	} {
		rd := Read{Buf: make([]byte, 10), N: c.n, Err: errInFlight}
		retry := complete(&rd, c.res)
		if retry != c.retry || rd.N != c.wantN || rd.Err != c.err {
			t.Errorf("complete(N=%d, res %d): retry %v, N %d, Err %v; want %v, %d, %v",
				c.n, c.res, retry, rd.N, rd.Err, c.retry, c.wantN, c.err)
		}
	}
}

// TestRingFailureWithReadsInFlight: O_DIRECT reads bypass the page cache,
// so they are still in flight when io_uring_enter returns without waiting;
// when the next call fails, their completions are collected (or their
// buffers pinned) before pread answers for them.
func TestRingFailureWithReadsInFlight(t *testing.T) {
	f := testFile(t, testFileSize)
	direct := openDirect(t, f)
	const align = 4096
	reads := make([]Read, 64)
	rng := rand.New(rand.NewPCG(11, 0))
	for i := range reads {
		reads[i] = Read{Off: rng.Int64N(testFileSize/align) * align, Buf: alignedBuf(align, align)}
	}
	r := NewReader(len(reads))
	defer r.Close()
	q, inFlight := r.ring, 0
	enterHook(t, r, func(call int, toSubmit, minComplete uint32, real func(uint32, uint32) (int, error)) (int, error) {
		if call == 1 {
			return real(toSubmit, 0) // submit, do not wait
		}
		inFlight = int(minComplete) - int(atomic.LoadUint32(q.cqTail)-atomic.LoadUint32(q.cqHead))
		return 0, syscall.EFAULT
	})
	if err := r.ReadBatch(int(direct.Fd()), reads); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d of %d reads in flight when the ring failed", inFlight, len(reads))
	checkReads(t, f, reads)
	if r.Ring() {
		t.Fatal("Reader kept a failed ring")
	}
	if q.inflight != 0 {
		// Not a failure: their buffers were pinned, and the bytes above
		// came from pread. On a disk busy enough to take abandonWait it
		// happens; a test that failed then would fail for the disk.
		t.Logf("%d reads had not completed after %v; their buffers are pinned", q.inflight, abandonWait)
	}
}

// openDirect opens f again for O_DIRECT reads, which bypass the page
// cache and so are still in flight when a submit-only call returns, or
// skips the test where the file system refuses O_DIRECT.
func openDirect(t *testing.T, f *os.File) *os.File {
	t.Helper()
	direct, err := os.OpenFile(f.Name(), os.O_RDONLY|syscall.O_DIRECT, 0)
	if err != nil {
		t.Skipf("no O_DIRECT here: %v", err)
	}
	t.Cleanup(func() { _ = direct.Close() })
	return direct
}

// alignedBuf returns n bytes of heap memory aligned for O_DIRECT.
func alignedBuf(n, align int) []byte {
	b := make([]byte, n+align)
	skip := (align - int(uintptr(unsafe.Pointer(&b[0]))%uintptr(align))) % align
	return b[skip : skip+n : skip+n]
}

// TestOneEnterPerGroup: the point of the ring is one system call per
// group of reads, not one per read.
func TestOneEnterPerGroup(t *testing.T) {
	f := testFile(t, testFileSize)
	const entries, n = 256, 1000
	r := NewReader(entries)
	defer r.Close()
	calls := 0
	enterHook(t, r, func(call int, toSubmit, minComplete uint32, real func(uint32, uint32) (int, error)) (int, error) {
		calls = call
		return real(toSubmit, minComplete)
	})
	rng := rand.New(rand.NewPCG(12, 0))
	reads := make([]Read, n)
	for i := range reads { // well inside the file: no read comes back short
		reads[i] = Read{Off: rng.Int64N(testFileSize - 4096), Buf: make([]byte, 1+rng.IntN(4096))}
	}
	if err := r.ReadBatch(int(f.Fd()), reads); err != nil {
		t.Fatal(err)
	}
	checkReads(t, f, reads)
	groups := (n + entries - 1) / entries
	// A signal may interrupt a wait, so allow a spare call or two.
	if calls < groups || calls > groups+2 {
		t.Fatalf("%d reads through a ring of %d took %d io_uring_enter calls, want %d", n, entries, calls, groups)
	}
	t.Logf("%d io_uring_enter calls for %d reads", calls, n)
}

// TestSubmitThenWait: each group's first io_uring_enter only submits (it
// goes in as a raw system call, so it must never wait for a disk), and
// reads that did not complete in it, O_DIRECT ones here, are waited for
// by the calls after it.
func TestSubmitThenWait(t *testing.T) {
	f := testFile(t, testFileSize)
	direct := openDirect(t, f)
	const align, entries = 4096, 16
	reads := make([]Read, 50)
	rng := rand.New(rand.NewPCG(13, 0))
	for i := range reads {
		reads[i] = Read{Off: rng.Int64N(testFileSize/align) * align, Buf: alignedBuf(align, align)}
	}
	r := NewReader(entries)
	defer r.Close()
	var calls, submits, waits int
	enterHook(t, r, func(call int, toSubmit, minComplete uint32, real func(uint32, uint32) (int, error)) (int, error) {
		calls = call
		if minComplete == 0 {
			submits++
		} else {
			waits++
			if toSubmit != 0 && submits == 0 {
				t.Errorf("call %d waits for %d completions before any call only submitted", call, minComplete)
			}
		}
		return real(toSubmit, minComplete)
	})
	if err := r.ReadBatch(int(direct.Fd()), reads); err != nil {
		t.Fatal(err)
	}
	checkReads(t, f, reads)
	if !r.Ring() {
		t.Fatalf("Reader fell back to pread: %v", r.ringErr)
	}
	groups := (len(reads) + entries - 1) / entries
	if submits != groups {
		t.Errorf("%d submit-only calls for %d groups, want one each", submits, groups)
	}
	t.Logf("%d io_uring_enter calls: %d submit only, %d wait", calls, submits, waits)
}
