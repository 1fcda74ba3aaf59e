package chaos

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// rounds overrides the number of rounds of the kill scenarios.
var rounds = flag.Int("chaos.rounds", 0, "rounds of each kill scenario (0: by form, short or HOLDFAST_CHAOS=long)")

// seedFlag replays a run's random choices (0: seed from the clock).
var seedFlag = flag.Uint64("chaos.seed", 0, "seed of the random kill points and faults (0: from the clock)")

// long reports whether the long form runs (make test-chaos).
func long() bool { return os.Getenv("HOLDFAST_CHAOS") == "long" }

// roundsOf returns how many rounds a scenario runs: its short count, its
// long count with HOLDFAST_CHAOS=long, or -chaos.rounds when given.
func roundsOf(short, longN int) int {
	switch {
	case *rounds > 0:
		return *rounds
	case long():
		return longN
	}
	return short
}

// skipShort skips the suite under -short: it builds and kills real binaries.
func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("SKIP chaos: builds, runs and kills the real binaries (not with -short)")
	}
}

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if bins.dir != "" {
		os.RemoveAll(bins.dir)
	}
	os.Exit(code)
}

// bins holds holdfastd and holdfast, built once per test binary run.
var bins struct {
	once   sync.Once
	dir    string
	server string
	client string
	err    error
}

// binaries builds both binaries (the client static, as it ships) into a
// temporary directory on first use and returns their paths.
func binaries(t *testing.T) (server, client string) {
	t.Helper()
	bins.once.Do(func() {
		if bins.dir, bins.err = os.MkdirTemp("", "holdfast-chaos-"); bins.err != nil {
			return
		}
		bins.server = filepath.Join(bins.dir, "holdfastd")
		bins.client = filepath.Join(bins.dir, "holdfast")
		for _, b := range []struct{ out, pkg, cgo string }{
			{bins.server, "github.com/holdfast-backup/holdfast/cmd/holdfastd", "1"},
			{bins.client, "github.com/holdfast-backup/holdfast/cmd/holdfast", "0"},
		} {
			cmd := exec.Command("go", "build", "-o", b.out, b.pkg)
			cmd.Env = append(os.Environ(), "CGO_ENABLED="+b.cgo)
			if out, err := cmd.CombinedOutput(); err != nil {
				bins.err = errors.New("go build " + b.pkg + ": " + err.Error() + "\n" + string(out))
				return
			}
		}
	})
	if bins.err != nil {
		t.Fatal(bins.err)
	}
	return bins.server, bins.client
}

// tally counts what a scenario checked and which invariants broke; report
// prints its one summary line.
type tally struct {
	t        *testing.T
	scenario string
	rounds   int
	failures int
}

func newTally(t *testing.T, scenario string) *tally {
	return &tally{t: t, scenario: scenario}
}

// fail records a broken invariant and fails the test without stopping it,
// so the summary line still prints.
func (s *tally) fail(format string, args ...any) {
	s.t.Helper()
	s.failures++
	s.t.Errorf("%s: "+format, append([]any{s.scenario}, args...)...)
}

// report prints the summary line, on stdout (stable, for make test-chaos)
// and in the test log. A scenario that verified nothing is a failure: a
// chaos test that checks nothing must not pass.
func (s *tally) report(verified ...string) {
	s.t.Helper()
	if len(verified) == 0 {
		s.fail("verified nothing")
	}
	line := fmt.Sprintf("chaos: scenario=%s rounds=%d failures=%d verified=%s",
		s.scenario, s.rounds, s.failures, strings.Join(verified, "/"))
	fmt.Println(line)
	s.t.Log(line)
}

func itoa(n int) string { return strconv.Itoa(n) }

// mib formats a byte count as MiB (GiB from 1 GiB on) with one decimal.
func mib(n int64) string {
	if n >= 1<<30 {
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
