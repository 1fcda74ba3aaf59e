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

// touchFaults allocates testBytes the way argon2 does, writes a word of
// every 4 KiB page of it, and returns the minor page faults of the
// calling thread meanwhile.
func touchFaults(t *testing.T) int64 {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := threadFaults(t)
	blocks := make([]block, testBytes/len(block{})/8)
	for i := range blocks {
		if i%4 == 0 {
			blocks[i][0] = uint64(i)
		}
	}
	runtime.KeepAlive(blocks)
	return threadFaults(t) - before
}

func threadFaults(t *testing.T) int64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		t.Fatal(err)
	}
	return ru.Minflt
}

// TestPrepareTakesHugePages: after Prepare, touching a 64 MiB allocation
// faults a few dozen times (2 MiB pages), not 16,384 (4 KiB pages), which
// is what the same allocation costs without it where huge pages are only
// given on request. Each measure runs in a process of its own: memory a
// process has freed stays resident and would fault no more.
func TestPrepareTakesHugePages(t *testing.T) {
	mode := thpMode(t)
	if mode == "never" {
		t.Skip("SKIP: transparent huge pages are turned off on this system")
	}
	small := int64(testBytes / os.Getpagesize())
	if mode == "madvise" {
		if got := childFaults(t, "plain"); got < small/2 {
			t.Fatalf("without Prepare: %d faults for %d pages; the measure cannot tell", got, small)
		}
	}
	if got := childFaults(t, "prepared"); got > small/16 {
		t.Errorf("after Prepare: %d faults for %d 4 KiB pages, want at most %d (huge pages)", got, small, small/16)
	}
}

const childEnv = "HUGEHEAP_TEST_CHILD"

// childFaults runs TestChild in a new process in mode and returns the
// faults it counted.
func childFaults(t *testing.T, mode string) int64 {
	cmd := exec.Command(os.Args[0], "-test.run=^TestChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
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

// TestChild is the measuring process of TestPrepareTakesHugePages; run
// directly, it does nothing.
func TestChild(t *testing.T) {
	mode := os.Getenv(childEnv)
	switch mode {
	case "":
		return
	case "prepared":
		if !Prepare(testBytes) {
			t.Fatal("Prepare: madvise refused")
		}
	}
	fmt.Printf("faults %d\n", touchFaults(t))
}

// TestPrepareSmall: nothing is done for an allocation under a huge page.
func TestPrepareSmall(t *testing.T) {
	if Prepare(1 << 20) {
		t.Error("Prepare(1 MiB) advised huge pages")
	}
}
