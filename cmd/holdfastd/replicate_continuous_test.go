package main

import (
	"bufio"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zeebo/blake3"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
)

// TestContinuousReplicationRPOAndCatchUp runs replication configured in
// holdfastd (--replicate-config): a snapshot adding 100 MiB reaches the
// target within the RPO bound after its commit; while the target is down
// the source backs off and counts errors; when it returns the source
// catches up, and the lag metrics go back to 0.
func TestContinuousReplicationRPOAndCatchUp(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: starts holdfastd processes and backs up 100 MiB")
	}
	bin := buildServer(t)
	p := newReplPair(t, bin)
	tokenFile := filepath.Join(t.TempDir(), "dr.token")
	if err := os.WriteFile(tokenFile, []byte(p.replToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "replicate.json")
	conf := fmt.Sprintf(`{"targets":[{"repo":"web","url":%q,"token_file":%q,"parallel":2,"rescan":"30s","min_backoff":"200ms","max_backoff":"2s"}]}`, p.dst.url, tokenFile)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	metricsAddr := freeAddr(t)
	p.src.stop()
	p.src.extra = []string{"--replicate-config", cfg, "--metrics", metricsAddr}
	p.src.start()
	metric := func(name string) float64 { return scrapeMetric(t, metricsAddr, name) }

	// RPO: 100 MiB of new data, measured from the commit on the source.
	dir := t.TempDir()
	writeTree(t, dir, 21, 50, 2<<20)
	id := p.backup(t, dir)
	committed := time.Now()
	if !waitFor(60*time.Second, func() bool { return slices.Contains(p.dst.snapshotIDs(p.replToken, "web"), id) }) {
		t.Fatal("the snapshot did not reach the target within 60 s")
	}
	lag := time.Since(committed)
	t.Logf("RPO: a 100 MiB snapshot was on the target %.2f s after its commit", lag.Seconds())
	if lag > 10*time.Second {
		t.Errorf("replication lag %v exceeds the 10 s RPO", lag)
	}
	t.Logf("baseline: blake3.Sum256 over the same 100 MiB %.0f MB/s; replication %.0f MB/s end to end (commit to visible); peak RSS source %s, target %s",
		blake3Rate(dir), 100*1.048576/lag.Seconds(), peakRSS(p.src.cmd.Process.Pid), peakRSS(p.dst.cmd.Process.Pid))

	// Target down: the source keeps retrying with backoff.
	p.dst.kill9()
	writeTree(t, dir, 22, 3, 300<<10)
	second := p.backup(t, dir)
	errsBefore := metric("holdfast_replication_errors_total")
	if !waitFor(30*time.Second, func() bool { return metric("holdfast_replication_errors_total") >= errsBefore+2 }) {
		t.Fatal("no failed passes counted while the target is down")
	}
	if n := metric("holdfast_replication_lag_snapshots"); n != 1 {
		t.Fatalf("lag_snapshots = %v while the target is down, want 1", n)
	}
	if s := metric("holdfast_replication_lag_seconds"); s <= 0 {
		t.Fatalf("lag_seconds = %v while the target is down, want > 0", s)
	}
	p.dst.start()
	back := time.Now()
	if !waitFor(30*time.Second, func() bool { return slices.Contains(p.dst.snapshotIDs(p.replToken, "web"), second) }) {
		t.Fatal("the source did not catch up after the target returned")
	}
	t.Logf("catch-up: %.2f s after the target returned (max backoff 2 s)", time.Since(back).Seconds())
	if !waitFor(5*time.Second, func() bool {
		return metric("holdfast_replication_lag_snapshots") == 0 && metric("holdfast_replication_lag_seconds") == 0
	}) {
		t.Fatal("lag metrics did not return to 0 after catch-up")
	}
	if b := metric("holdfast_replication_bytes_sent_total"); b < 100<<20 {
		t.Fatalf("bytes_sent_total = %v, want at least 100 MiB", b)
	}
}

// stop ends the process with SIGTERM and waits for it.
func (s *site) stop() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatal(err)
	}
	_ = s.cmd.Wait()
}

// scrapeMetric returns the value of the first series of name (-1 if none).
func scrapeMetric(t *testing.T, addr, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		return v
	}
	return -1
}

// TestContinuousStreamEndsAtShutdown starts a continuous Replicate stream
// and stops the source with SIGTERM: the stream must not hold the graceful
// shutdown for its 30 s grace period.
func TestContinuousStreamEndsAtShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: starts two holdfastd processes")
	}
	bin := buildServer(t)
	p := newReplPair(t, bin)
	dir := t.TempDir()
	writeTree(t, dir, 51, 2, 200<<10)
	id := p.backup(t, dir)
	errc := p.replicateAsync(&holdfastv1.ReplicateRequest{Continuous: true})
	if !waitFor(30*time.Second, func() bool { return slices.Contains(p.dst.snapshotIDs(p.replToken, "web"), id) }) {
		t.Fatal("the continuous stream did not replicate the snapshot")
	}
	start := time.Now()
	p.src.stop()
	if el := time.Since(start); el > 10*time.Second {
		t.Fatalf("SIGTERM took %v with a continuous stream open", el)
	}
	if code := p.src.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("holdfastd exited %d after SIGTERM, want 0", code)
	}
	select {
	case <-errc:
	case <-time.After(10 * time.Second):
		t.Fatal("the Replicate stream did not end with the server")
	}
}

// blake3Rate hashes every file under dir once and returns MB/s: the
// baseline the replication rate is reported against.
func blake3Rate(dir string) float64 {
	var n int
	var el time.Duration
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		start := time.Now()
		blake3.Sum256(b)
		el += time.Since(start)
		n += len(b)
		return nil
	})
	return float64(n) / 1e6 / el.Seconds()
}

// peakRSS reads a process's peak resident set (VmHWM) on Linux.
func peakRSS(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "n/a"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "n/a"
}
