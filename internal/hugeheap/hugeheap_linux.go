package hugeheap

import (
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugePage is the size of a transparent huge page on the systems this
// runs on (x86-64 and arm64 with 4 KiB base pages).
const hugePage = 2 << 20

// slack is how much larger than n the advised span is: the alignment
// lost at its ends, and room for the small spans other goroutines may
// take from the bottom of the free range before a large allocation comes.
const slack = 8 << 20

// below is how far under the span the advice reaches: memory freed just
// under it joins the free range, and an allocation then starts there (up
// to 10 MiB lower in trials).
const below = 16 << 20

// Advise advises huge pages over the lowest free heap range of at least n
// bytes: where an allocation of n bytes that the caller is about to make
// (or cause) will be placed. It reports whether the advice was given. It
// collects garbage and returns free memory to the system, so it is for a
// rare, large allocation (a key unwrap), not a loop.
func Advise(n int) bool {
	_, _, ok := advise(n)
	return ok
}

// AdviseHeap, called first thing in main, advises huge pages where the
// heap will grow to its first n bytes, and keeps the advice only while
// the program allocates: after a minute of allocating little it is
// withdrawn (MADV_NOHUGEPAGE), and it is given again within a second of
// allocating much. Otherwise the kernel's khugepaged would, over the
// minutes a server idles, fill the huge pages that the runtime's
// scavenger had released parts of, and the idle process would keep about
// its peak heap resident: 144 MiB and rising against 64 MiB, measured.
func AdviseHeap(n int) bool {
	start, end, ok := advise(n)
	if ok {
		w := &watch{start: start, end: end, poll: time.Second, idle: time.Minute, busy: 16 << 20}
		go w.run()
	}
	return ok
}

func advise(n int) (start, end uintptr, ok bool) {
	if n < hugePage || off() || strictOvercommit(overcommitFile) {
		return 0, 0, false
	}
	start, end, err := adviseFreshSpan(n + slack)
	// The span is garbage now. Free it, so that what comes next finds its
	// range free. FreeOSMemory also releases free pages at once: left to
	// the background scavenger, which takes pages out of the free ranges
	// while it releases them, an allocation landed past the span in 3
	// trials of 20.
	debug.FreeOSMemory()
	return start, end, err == nil
}

// adviseFreshSpan allocates n bytes, which come fresh from the system and
// are never touched here, and advises huge pages from below under them to
// their end, in whole huge pages. Only addresses are advised: madvise(2)
// with MADV_HUGEPAGE changes no byte of memory in use, and the part of the
// range not mapped is skipped (with ENOMEM, which is no failure here).
//
//go:noinline
func adviseFreshSpan(n int) (start, end uintptr, err error) {
	span := make([]byte, n)
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(span)))
	end = (lo + uintptr(n)) &^ (hugePage - 1)
	start = (lo - below) &^ (hugePage - 1)
	if lo < below {
		start = (lo + hugePage - 1) &^ (hugePage - 1)
	}
	return start, end, madvise(start, end, unix.MADV_HUGEPAGE)
}

// overcommitFile says whether the kernel charges mappings against a
// commit limit.
const overcommitFile = "/proc/sys/vm/overcommit_memory"

// strictOvercommit reports whether file says mode 2, in which the span,
// although never touched, would be charged against the commit limit for
// the life of the process (releasing pages does not lower the charge),
// and a small machine could refuse the process's later allocations.
func strictOvercommit(file string) bool {
	b, err := os.ReadFile(file)
	return err == nil && strings.TrimSpace(string(b)) == "2"
}

// madvise gives advice over [start, end). The part of the range not
// mapped is skipped (ENOMEM), which is no failure here.
func madvise(start, end uintptr, advice int) error {
	_, _, errno := unix.Syscall(unix.SYS_MADVISE, start, end-start, uintptr(advice))
	if errno != 0 && errno != unix.ENOMEM {
		return errno
	}
	return nil
}

// watch keeps the advice over [start, end) while the program allocates
// at least busy bytes per poll, and withdraws it after idle without.
type watch struct {
	start, end uintptr
	poll, idle time.Duration
	busy       uint64
	// advised is told each change, and the watch ends when done is
	// closed (tests).
	advised func(bool)
	done    <-chan struct{}
}

func (w *watch) run() {
	sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	allocated := func() uint64 {
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return 0 // unknown to this runtime: never busy
		}
		return sample[0].Value.Uint64()
	}
	last, advised, quiet := allocated(), true, time.Now()
	t := time.NewTicker(w.poll)
	defer t.Stop()
	for {
		var now time.Time
		select {
		case now = <-t.C:
		case <-w.done:
			return
		}
		cur := allocated()
		busy := cur-last >= w.busy
		last = cur
		switch {
		case busy:
			quiet = now
			if !advised {
				advised = madvise(w.start, w.end, unix.MADV_HUGEPAGE) == nil
				w.tell(advised)
			}
		case advised && now.Sub(quiet) >= w.idle:
			advised = madvise(w.start, w.end, unix.MADV_NOHUGEPAGE) != nil
			w.tell(advised)
		}
	}
}

func (w *watch) tell(advised bool) {
	if w.advised != nil {
		w.advised(advised)
	}
}
