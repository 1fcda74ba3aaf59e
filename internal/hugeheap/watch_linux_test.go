package hugeheap

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

var sink []byte

// TestWatchWithdrawsWhenIdle: the advice over a range is withdrawn once
// the program has allocated little for the idle time, and given again
// when it allocates much; the kernel's flags for the range say so.
func TestWatchWithdrawsWhenIdle(t *testing.T) {
	mem, err := unix.Mmap(-1, 0, 4*hugePage, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(mem)
	start := uintptr(unsafePointer(mem))
	end := start + uintptr(len(mem))
	if err := madvise(start, end, unix.MADV_HUGEPAGE); err != nil {
		t.Fatal(err)
	}
	if got := vmFlags(t, start); !got["hg"] {
		t.Fatalf("after MADV_HUGEPAGE the range's flags are %v", got)
	}
	changes := make(chan bool, 4)
	done := make(chan struct{})
	defer close(done)
	w := &watch{start: start, end: end, poll: 10 * time.Millisecond, idle: 200 * time.Millisecond, busy: 8 << 20,
		advised: func(a bool) { changes <- a }, done: done}
	go w.run()

	select {
	case a := <-changes:
		if a {
			t.Fatal("the watch advised again while idle")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the advice was not withdrawn after the idle time")
	}
	if got := vmFlags(t, start); !got["nh"] || got["hg"] {
		t.Fatalf("withdrawn, the range's flags are %v, want nh", got)
	}

	deadline := time.After(10 * time.Second)
	for advised := false; !advised; {
		sink = make([]byte, 4<<20) // allocation is what the watch counts
		runtime.Gosched()
		select {
		case advised = <-changes:
			if !advised {
				t.Fatal("withdrawn twice")
			}
		case <-deadline:
			t.Fatal("the advice was not given again while allocating")
		default:
		}
	}
	if got := vmFlags(t, start); !got["hg"] || got["nh"] {
		t.Fatalf("advised again, the range's flags are %v, want hg", got)
	}
}

// vmFlags returns the VmFlags of the mapping holding addr, from
// /proc/self/smaps.
func vmFlags(t *testing.T, addr uintptr) map[string]bool {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("SKIP: no /proc/self/smaps: %v", err)
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		var lo, hi uintptr
		if n, _ := fmt.Sscanf(line, "%x-%x ", &lo, &hi); n == 2 {
			in = lo <= addr && addr < hi
			continue
		}
		if in && strings.HasPrefix(line, "VmFlags:") {
			flags := map[string]bool{}
			for _, f := range strings.Fields(strings.TrimPrefix(line, "VmFlags:")) {
				flags[f] = true
			}
			return flags
		}
	}
	t.Fatalf("no mapping holds %#x", addr)
	return nil
}

func unsafePointer(b []byte) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(b)) }
