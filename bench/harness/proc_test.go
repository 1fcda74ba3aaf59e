package harness

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// TestMinorFaults: touching fresh anonymous memory shows up as one minor
// fault per page, and CPUTime reads the same stat line.
func TestMinorFaults(t *testing.T) {
	const pages = 1024
	pid := os.Getpid()
	mem, err := syscall.Mmap(-1, 0, pages*os.Getpagesize(), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(mem)
	before := MinorFaults(pid)
	for i := 0; i < len(mem); i += os.Getpagesize() {
		mem[i] = 1
	}
	after := MinorFaults(pid)
	if before <= 0 || after-before < pages/2 {
		t.Fatalf("minor faults %d before and %d after touching %d fresh pages", before, after, pages)
	}
	// CPU time counts in 10 ms ticks: spin until one shows, or give up.
	deadline := time.Now().Add(5 * time.Second)
	for CPUTime(pid) <= 0 {
		if time.Now().After(deadline) {
			t.Fatal("no CPU time read for this process after 5 s of spinning")
		}
	}
	if MinorFaults(-1) != 0 || CPUTime(-1) != 0 {
		t.Fatal("a process that does not exist has stats")
	}
}
