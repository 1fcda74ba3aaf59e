package hugeheap

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// block is the unit argon2 allocates its memory in.
type block [128]uint64

const testBytes = 64 << 20

// TestAdviseTakesHugePages: after Advise, touching 64 MiB allocated in
// one piece (as argon2 does) or in 4 MiB pieces (as a heap grows) faults
// a few hundred times at most (2 MiB pages), not 16,384 (4 KiB pages),
// which is what the same allocations cost without it, or with
// HOLDFAST_HUGE_PAGES=off, where huge pages are only given on request.
// Each measure runs in a process of its own: memory a process has freed
// stays resident and would fault no more.
func TestAdviseTakesHugePages(t *testing.T) {
	if raceEnabled {
		t.Skip("SKIP: under the race detector the heap places allocations otherwise; run without -race")
	}
	mode := thpMode(t)
	if mode == "never" {
		t.Skip("SKIP: transparent huge pages are turned off on this system")
	}
	small := int64(testBytes / os.Getpagesize())
	if mode == "madvise" {
		for _, child := range []string{"plain", "off"} {
			if got := childFaults(t, child); got < small/2 {
				t.Errorf("%s: %d faults for %d pages, want about as many", child, got, small)
			}
		}
	}
	for _, child := range []string{"one", "pieces"} {
		if got := childFaults(t, child); got > small/16 {
			t.Errorf("%s: %d faults for %d 4 KiB pages, want at most %d (huge pages)", child, got, small, small/16)
		}
	}
}

// TestAdviseSmall: nothing is done for an allocation under a huge page.
func TestAdviseSmall(t *testing.T) {
	if Advise(1 << 20) {
		t.Error("Advise(1 MiB) advised huge pages")
	}
}

const childEnv = "HUGEHEAP_TEST_CHILD"

// TestChild is the measuring process of TestAdviseTakesHugePages; run
// directly, it does nothing. It prints the faults it counted.
func TestChild(t *testing.T) {
	mode := os.Getenv(childEnv)
	pieces := 1
	switch mode {
	case "":
		return
	case "plain":
	case "one":
		if !Advise(testBytes) {
			t.Fatal("Advise: madvise refused")
		}
	case "pieces":
		if !Advise(2 * testBytes) {
			t.Fatal("Advise: madvise refused")
		}
		pieces = 16
	case "off":
		if Advise(testBytes) {
			t.Fatalf("Advise with %s=off advised", EnvVar)
		}
	default:
		t.Fatalf("unknown mode %q", mode)
	}
	fmt.Printf("faults %d\n", touchFaults(t, pieces))
}

// childFaults runs TestChild in a new process in mode and returns the
// faults it counted.
func childFaults(t *testing.T, mode string) int64 {
	cmd := exec.Command(os.Args[0], "-test.run=^TestChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	if mode == "off" {
		cmd.Env = append(cmd.Env, EnvVar+"=off")
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child %s: %v\n%s", mode, err, out)
	}
	var n int64
	for _, line := range strings.Split(string(out), "\n") {
		if _, err := fmt.Sscanf(line, "faults %d", &n); err == nil {
			return n
		}
	}
	t.Fatalf("child %s printed no fault count:\n%s", mode, out)
	return 0
}

// touchFaults allocates testBytes in pieces, writes a word of every 4 KiB
// page of them, and returns the minor page faults of the calling thread
// meanwhile.
func touchFaults(t *testing.T, pieces int) int64 {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := threadFaults(t)
	kept := make([][]block, pieces)
	for p := range kept {
		blocks := make([]block, testBytes/pieces/len(block{})/8)
		for i := range blocks {
			if i%4 == 0 {
				blocks[i][0] = uint64(i)
			}
		}
		kept[p] = blocks
	}
	runtime.KeepAlive(kept)
	return threadFaults(t) - before
}

func threadFaults(t *testing.T) int64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		t.Fatal(err)
	}
	return ru.Minflt
}

// thpMode returns the system's transparent huge page mode: "always",
// "madvise" or "never".
func thpMode(t *testing.T) string {
	b, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil {
		t.Skipf("SKIP: no transparent huge pages here: %v", err)
	}
	s := string(b)
	i, j := strings.IndexByte(s, '['), strings.IndexByte(s, ']')
	if i < 0 || j < i {
		t.Fatalf("unexpected transparent_hugepage/enabled: %q", s)
	}
	return s[i+1 : j]
}

// TestStrictOvercommit: mode 2 is recognised; other modes, or no file,
// are not.
func TestStrictOvercommit(t *testing.T) {
	dir := t.TempDir()
	for content, want := range map[string]bool{"2\n": true, "0\n": false, "1\n": false, "": false} {
		f := dir + "/overcommit"
		if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := strictOvercommit(f); got != want {
			t.Errorf("strictOvercommit(%q) = %v, want %v", content, got, want)
		}
	}
	if strictOvercommit(dir + "/missing") {
		t.Error("a missing file says strict")
	}
}
