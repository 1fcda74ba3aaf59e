package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/holdfast-backup/holdfast/internal/gogc"
)

// cgroupMemoryFiles are where a process finds its memory limit: cgroup v2
// first, then v1. Inside a container both show the container's own group.
var cgroupMemoryFiles = []string{
	"/sys/fs/cgroup/memory.max",
	"/sys/fs/cgroup/memory/memory.limit_in_bytes",
}

// memoryLimitShare is the part of the cgroup limit given to the Go runtime
// as its soft limit; the rest covers what the runtime does not count
// (thread stacks outside the heap, page tables, the kernel's socket
// buffers charged to the group).
const memoryLimitShare = 0.9

// defaultGCPercent is the garbage collector's target when GOGC is not
// set: collect once the heap has grown by half of what is live, not by all
// of it. Most of the server's live heap is a few large buffers kept for
// reuse (pack buffers with room for their parity, I/O windows, and in the
// static build the index's block cache), which a collection marks in
// microseconds; at the runtime's default of 100 they only let the heap
// grow by as much again before it collects. In the issue 5 benchmark (3
// runs each, alternating) holdfastd peaked at 370-388 MiB during a first
// backup against 490-547 at 100, with 91-99k page faults against
// 122-135k and no more CPU (5.82-6.63 CPU-s against 5.90-6.94).
const defaultGCPercent = 50

// setGCPercent sets the garbage collector's target to defaultGCPercent,
// unless GOGC says otherwise.
func setGCPercent() { gogc.Default(defaultGCPercent) }

// setMemoryLimit gives the Go runtime a soft memory limit of 90% of the
// cgroup's, unless GOMEMLIMIT says otherwise. Without it the garbage
// collector lets the heap grow to twice what is live before collecting, and
// the index's block cache and memtables live on the Go heap in the static
// build: a server in a 256 MiB container would be killed for memory it
// could have collected. It returns what it did, for the start-up log, or
// "" when it did nothing.
func setMemoryLimit(files []string) string {
	if v, ok := os.LookupEnv("GOMEMLIMIT"); ok {
		return "memory limit from GOMEMLIMIT=" + v
	}
	limit, file := cgroupMemoryLimit(files)
	if limit <= 0 {
		return ""
	}
	soft := int64(float64(limit) * memoryLimitShare)
	debug.SetMemoryLimit(soft)
	return fmt.Sprintf("memory limit %d MiB (90%% of the %d MiB of %s; set GOMEMLIMIT to change it)",
		soft>>20, limit>>20, file)
}

// cgroupMemoryLimit returns the first memory limit found in files and the
// file it came from, or 0 if none sets one ("max", a missing file, or v1's
// "unlimited" value near 2^63).
func cgroupMemoryLimit(files []string) (int64, string) {
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		s := strings.TrimSpace(string(b))
		if s == "max" {
			return 0, ""
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 || n >= 1<<62 {
			return 0, ""
		}
		return n, f
	}
	return 0, ""
}
