package harness

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// rssPoll is how often a process's peak RSS is sampled. VmHWM is a
// high-water mark, so sampling misses only what grows in the last period
// before the process exits.
const rssPoll = 10 * time.Millisecond

// VmHWM reads the peak resident set of pid in bytes, or 0 if the process
// is gone.
func VmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// CPUTime reads the user + system time pid has used so far from
// /proc/PID/stat, or 0 if the process is gone.
func CPUTime(pid int) time.Duration {
	f := statFields(pid)
	if f == nil {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / clockTicks
}

// MinorFaults reads how many minor page faults pid has taken so far, or 0
// if the process is gone. Each is a page of memory touched for the first
// time (or again after it was handed back to the kernel): on a virtual
// machine one costs microseconds, so the count shows what a process's
// allocation pattern costs beyond its own code.
func MinorFaults(pid int) int64 {
	f := statFields(pid)
	if f == nil {
		return 0
	}
	n, _ := strconv.ParseInt(f[7], 10, 64)
	return n
}

// statFields returns the fields of /proc/PID/stat after the command name
// (which is in parentheses and may hold spaces), so that field 3 (state)
// is at index 0: minflt (10) at 7, utime (14) at 11, stime (15) at 12. It
// returns nil if the process is gone.
func statFields(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return nil
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return nil
	}
	return f
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

// ResetPeak resets pid's VmHWM to its current RSS (clear_refs 5), so the
// next peak is that of what follows. It needs the right to write the
// process's clear_refs (same user).
func ResetPeak(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// peakWatcher samples a process's VmHWM until stopped.
type peakWatcher struct {
	pid  int
	mu   sync.Mutex // a sample and a reset must not interleave
	peak int64
	stop chan struct{}
	wg   sync.WaitGroup
}

func watchPeak(pid int) *peakWatcher {
	w := &peakWatcher{pid: pid, stop: make(chan struct{})}
	w.wg.Go(func() {
		t := time.NewTicker(rssPoll)
		defer t.Stop()
		for {
			w.sample()
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
		}
	})
	return w
}

func (w *peakWatcher) sample() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.peak = max(w.peak, VmHWM(w.pid))
}

// reset starts a new peak from now.
func (w *peakWatcher) reset() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := ResetPeak(w.pid); err != nil {
		return err
	}
	w.peak = VmHWM(w.pid)
	return nil
}

// Peak returns the highest VmHWM seen.
func (w *peakWatcher) Peak() int64 {
	w.sample()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.peak
}

// close stops sampling and returns the peak.
func (w *peakWatcher) close() int64 {
	close(w.stop)
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.peak
}
