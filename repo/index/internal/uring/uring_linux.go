//go:build linux

package uring

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Kernel ABI constants (include/uapi/linux/io_uring.h).
const (
	opRead         = 22         // IORING_OP_READ, Linux 5.6
	enterGetEvents = 1 << 0     // IORING_ENTER_GETEVENTS
	featSingleMmap = 1 << 0     // IORING_FEAT_SINGLE_MMAP: SQ and CQ rings share one mapping
	featRWCurPos   = 1 << 3     // IORING_FEAT_RW_CUR_POS, new in 5.6 like IORING_OP_READ
	offSQRing      = 0          // IORING_OFF_SQ_RING
	offCQRing      = 0x8000000  // IORING_OFF_CQ_RING
	offSQEs        = 0x10000000 // IORING_OFF_SQES
	sqeSize        = 64
	cqeSize        = 16
	maxSQELen      = 1 << 30 // longer reads are split (the kernel stops at 2 GiB - 4 KiB anyway)
)

// Limits on retrying, so that a misbehaving kernel or file costs time, not
// a hang: each pass resubmits reads that came back short or with EINTR or
// EAGAIN, and stalls count io_uring_enter calls that made no progress.
const (
	maxPasses   = 16
	maxStalls   = 1000
	abandonWait = time.Second
)

type sqOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, _ uint32
	_                                                           uint64 // user_addr
}

type cqOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, _ uint32
	_                                                           uint64 // user_addr
}

// params is struct io_uring_params.
type params struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	_                                                                      [3]uint32
	sqOff                                                                  sqOffsets
	cqOff                                                                  cqOffsets
}

// sqe is struct io_uring_sqe. Every field is named so that writing a whole
// sqe value clears a slot's previous contents.
type sqe struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64
	addr        uint64
	len         uint32
	rwFlags     uint32
	userData    uint64
	bufIndex    uint16
	personality uint16
	spliceFdIn  int32
	addr3       uint64
	pad         uint64
}

// cqe is struct io_uring_cqe.
type cqe struct {
	userData uint64
	res      int32
	_        uint32 // flags
}

// The layouts must match the kernel's to the byte.
var (
	_ [unsafe.Sizeof(params{}) - 120]byte
	_ [120 - unsafe.Sizeof(params{})]byte
	_ [unsafe.Sizeof(sqe{}) - sqeSize]byte
	_ [sqeSize - unsafe.Sizeof(sqe{})]byte
	_ [unsafe.Sizeof(cqe{}) - cqeSize]byte
	_ [cqeSize - unsafe.Sizeof(cqe{})]byte
)

// ring is one io_uring instance with its three mappings.
type ring struct {
	fd                   int
	sqMem, cqMem, sqeMem []byte // cqMem is nil when it shares sqMem

	entries int     // SQ size: the most reads in flight at once
	sqTail  *uint32 // shared with the kernel, which advances the head
	tail    uint32  // our copy of *sqTail, ahead of it while queueing
	sqMask  uint32
	sqes    []sqe

	cqHead, cqTail *uint32
	cqMask         uint32
	cqes           []cqe

	inflight int // submitted but not reaped, when flush fails

	// enter is io_uring_enter; tests replace it to make the ring fail.
	enter func(toSubmit, minComplete uint32) (int, error)
}

func newRing(entries int) (*ring, error) {
	var p params
	r1, _, errno := unix.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if errno != 0 {
		return nil, errno
	}
	q := &ring{fd: int(r1)}
	q.enter = q.sysEnter
	if p.features&featRWCurPos == 0 {
		// Older than 5.6: the ring works but IORING_OP_READ does not.
		_ = q.close()
		return nil, errors.ErrUnsupported
	}
	if err := q.mapRings(&p); err != nil {
		_ = q.close()
		return nil, err
	}
	return q, nil
}

// mapRings maps the rings the kernel set up and points the ring's fields
// into them.
func (q *ring) mapRings(p *params) error {
	sqSize := int(p.sqOff.array + p.sqEntries*4)
	cqSize := int(p.cqOff.cqes + p.cqEntries*cqeSize)
	single := p.features&featSingleMmap != 0
	if single {
		sqSize = max(sqSize, cqSize)
	}
	var err error
	if q.sqMem, err = mmap(q.fd, offSQRing, sqSize); err != nil {
		return err
	}
	cq := q.sqMem
	if !single {
		if q.cqMem, err = mmap(q.fd, offCQRing, cqSize); err != nil {
			return err
		}
		cq = q.cqMem
	}
	if q.sqeMem, err = mmap(q.fd, offSQEs, int(p.sqEntries)*sqeSize); err != nil {
		return err
	}

	q.entries = int(p.sqEntries)
	q.sqTail = u32At(q.sqMem, p.sqOff.tail)
	q.tail = atomic.LoadUint32(q.sqTail)
	q.sqMask = *u32At(q.sqMem, p.sqOff.ringMask)
	q.sqes = unsafe.Slice((*sqe)(unsafe.Pointer(&q.sqeMem[0])), p.sqEntries)
	// The SQ array maps ring positions to SQE slots. Slot i always sits
	// at position i, so it is filled once here.
	array := unsafe.Slice(u32At(q.sqMem, p.sqOff.array), p.sqEntries)
	for i := range array {
		array[i] = uint32(i)
	}

	q.cqHead = u32At(cq, p.cqOff.head)
	q.cqTail = u32At(cq, p.cqOff.tail)
	q.cqMask = *u32At(cq, p.cqOff.ringMask)
	q.cqes = unsafe.Slice((*cqe)(unsafe.Pointer(&cq[p.cqOff.cqes])), p.cqEntries)
	return nil
}

func mmap(fd int, off int64, size int) ([]byte, error) {
	return unix.Mmap(fd, off, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
}

// u32At points at the uint32 at off in a ring mapping (bounds-checked).
func u32At(mem []byte, off uint32) *uint32 {
	return (*uint32)(unsafe.Pointer(&mem[off]))
}

// close unmaps the rings and closes the ring; it may be called again.
func (q *ring) close() error {
	var errs []error
	for _, m := range []*[]byte{&q.sqeMem, &q.cqMem, &q.sqMem} {
		if *m != nil {
			errs = append(errs, unix.Munmap(*m))
			*m = nil
		}
	}
	q.sqes, q.cqes = nil, nil
	if q.fd >= 0 {
		errs = append(errs, unix.Close(q.fd))
		q.fd = -1
	}
	return errors.Join(errs...)
}

// sysEnter is io_uring_enter: it submits toSubmit SQEs and, unless
// minComplete is 0, waits for that many completions.
//
// A call that only submits never waits for a disk: the kernel tries each
// read once without blocking (a read of the page cache completes right
// there) and hands the others to its workers. So it goes in as a raw
// system call, which keeps this thread's P. Through syscall.Syscall the
// Go scheduler would count it as a blocking call, and the runtime's
// monitor, seeing a ring's worth of page-cache copies (a hundred µs or
// more) still in the kernel, would take the P away and wake other threads
// to hand it on, only to have this one take a P back on return; that
// churn cost a lookup a fifth again as much CPU as the reads themselves
// (see BenchmarkReadBatch's cpu-ns/read). A call that waits may wait for a
// disk, so it goes through syscall.Syscall and gives its P up.
func (q *ring) sysEnter(toSubmit, minComplete uint32) (int, error) {
	var r1 uintptr
	var errno syscall.Errno
	if minComplete == 0 {
		r1, _, errno = unix.RawSyscall6(unix.SYS_IO_URING_ENTER, uintptr(q.fd),
			uintptr(toSubmit), 0, 0, 0, 0)
	} else {
		r1, _, errno = unix.Syscall6(unix.SYS_IO_URING_ENTER, uintptr(q.fd),
			uintptr(toSubmit), uintptr(minComplete), enterGetEvents, 0, 0)
	}
	if errno != 0 {
		return 0, errno
	}
	return int(r1), nil
}

// run performs the pending reads of a batch. Each pass submits every
// pending read once; reads that must be retried are pending again for the
// next pass. Whatever is still pending after maxPasses is left to pread.
// On an error the ring is unusable and the caller drops it.
func (q *ring) run(fd int, reads []Read) error {
	for range maxPasses {
		more, err := q.pass(int32(fd), reads)
		if err != nil {
			q.abandon(reads)
			return err
		}
		if !more {
			return nil
		}
	}
	return nil
}

// pass submits the pending reads in groups of at most the SQ size and
// reaps each group whole before queueing the next, so no more reads are
// ever in flight than the CQ (twice the SQ) can hold.
func (q *ring) pass(fd int32, reads []Read) (more bool, err error) {
	for i := 0; ; {
		n := 0
		for ; i < len(reads) && n < q.entries; i++ {
			if reads[i].Err == errPending {
				q.queue(fd, i, &reads[i])
				n++
			}
		}
		if n == 0 {
			return more, nil
		}
		retry, err := q.flush(n, reads)
		more = more || retry
		if err != nil {
			return more, err
		}
	}
}

// queue fills the next SQE with the rest of read i.
func (q *ring) queue(fd int32, i int, rd *Read) {
	buf := rd.Buf[rd.N:]
	q.sqes[q.tail&q.sqMask] = sqe{
		opcode:   opRead,
		fd:       fd,
		off:      uint64(rd.Off) + uint64(rd.N),
		addr:     uint64(uintptr(unsafe.Pointer(&buf[0]))),
		len:      uint32(min(len(buf), maxSQELen)),
		userData: uint64(i),
	}
	q.tail++
	rd.Err = errInFlight
}

// flush submits the n queued SQEs and waits for all n completions, in as
// few io_uring_enter calls as the kernel allows (one, normally).
func (q *ring) flush(n int, reads []Read) (retry bool, err error) {
	atomic.StoreUint32(q.sqTail, q.tail) // publishes the SQEs written before it
	submitted, reaped, stalls := 0, 0, 0
	for first := true; reaped < n; first = false {
		// The first call only submits: reads of the page cache complete
		// in it, and only if some did not does a second call wait. The
		// kernel consumes SQEs from its head up to our tail, so the count
		// is all that a resumed submission needs.
		wait := uint32(n - reaped)
		if first {
			wait = 0
		}
		got, err := q.enter(uint32(n-submitted), wait)
		submitted += got
		c, again, rerr := q.reap(reads)
		reaped += c
		retry = retry || again
		if rerr == nil && err != nil && !transient(err) {
			rerr = err
		}
		if rerr == nil && got == 0 && c == 0 && err != syscall.EINTR {
			// EINTR only means a signal (the Go runtime sends them to
			// preempt); anything else that made no progress is a stall.
			if stalls++; stalls > maxStalls {
				rerr = syscall.EAGAIN
			}
			runtime.Gosched()
		}
		if rerr != nil {
			q.inflight = submitted - reaped
			return retry, rerr
		}
	}
	return retry, nil
}

// transient reports whether io_uring_enter may simply be called again:
// interrupted by a signal, or short of memory or CQ room for the moment.
func transient(err error) bool {
	return err == syscall.EINTR || err == syscall.EAGAIN || err == syscall.EBUSY
}

var errBadCQE = errors.New("uring: completion for no read in flight")

// reap consumes every completion in the CQ and records it in its read.
func (q *ring) reap(reads []Read) (n int, retry bool, err error) {
	head := atomic.LoadUint32(q.cqHead)
	tail := atomic.LoadUint32(q.cqTail) // the CQEs before it are written
	for ; head != tail; head++ {
		c := q.cqes[head&q.cqMask]
		if c.userData >= uint64(len(reads)) || reads[c.userData].Err != errInFlight {
			err = errBadCQE
			break
		}
		retry = complete(&reads[c.userData], c.res) || retry
		n++
	}
	atomic.StoreUint32(q.cqHead, head) // hands the slots back to the kernel
	return n, retry, err
}

// complete records the result res of a read's SQE and reports whether the
// read must be submitted again: for the rest after a short read (only a
// result of 0 means end of file), or when interrupted.
func complete(rd *Read, res int32) (retry bool) {
	switch {
	case res > 0:
		rd.N += int(res)
		if rd.N < len(rd.Buf) {
			rd.Err = errPending
			return true
		}
		rd.Err = nil
	case res == 0:
		rd.Err = nil
	case res == -int32(syscall.EINTR) || res == -int32(syscall.EAGAIN):
		rd.Err = errPending
		return true
	default:
		rd.Err = syscall.Errno(-res)
	}
	return false
}

// abandon is called when the ring has failed with reads still in flight.
// The kernel may yet write into their buffers, so it waits a while for
// their completions (which arrive in the CQ without io_uring_enter). The
// buffers of any that never complete are pinned for the life of the
// process, so that the garbage collector cannot hand their memory to
// other objects; pread then reads those spans again.
func (q *ring) abandon(reads []Read) {
	deadline := time.Now().Add(abandonWait)
	for q.inflight > 0 && time.Now().Before(deadline) {
		n, _, err := q.reap(reads)
		if err != nil {
			break
		}
		if q.inflight -= n; q.inflight > 0 {
			time.Sleep(time.Millisecond)
		}
	}
	if q.inflight > 0 {
		pin(reads)
	}
}

// stranded holds buffers the kernel may still write into.
var stranded struct {
	sync.Mutex
	bufs [][]byte
}

func pin(reads []Read) {
	stranded.Lock()
	defer stranded.Unlock()
	for i := range reads {
		if reads[i].Err == errInFlight {
			stranded.bufs = append(stranded.bufs, reads[i].Buf)
		}
	}
}
