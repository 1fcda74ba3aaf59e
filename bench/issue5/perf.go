package issue5

import (
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// perfRecord samples pid's stacks with `perf record` into out until the
// returned stop is called (or the process exits). Without perf, or
// without the right to profile, it does nothing: profiles are optional.
func perfRecord(pid int, out string) (stop func()) {
	cmd := exec.Command("perf", "record", "-q", "-F", profileFrequency, "-g", "-o", out, "-p", strconv.Itoa(pid))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return func() {}
	}
	return func() {
		cmd.Process.Signal(syscall.SIGINT)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
}
