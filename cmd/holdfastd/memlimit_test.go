package main

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func TestCgroupMemoryLimit(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	v2 := write("v2", "268435456\n")
	v1 := write("v1", "536870912\n")
	unlimitedV1 := write("v1-unlimited", "9223372036854771712\n")
	max := write("max", "max\n")
	junk := write("junk", "lots\n")
	missing := filepath.Join(dir, "missing")

	for _, tc := range []struct {
		files []string
		want  int64
	}{
		{[]string{v2, v1}, 256 << 20},
		{[]string{missing, v1}, 512 << 20},
		{[]string{max, v1}, 0}, // v2 says no limit: v1 files are not consulted
		{[]string{missing, unlimitedV1}, 0},
		{[]string{junk}, 0},
		{[]string{missing}, 0},
	} {
		got, from := cgroupMemoryLimit(tc.files)
		if got != tc.want {
			t.Errorf("%v: limit %d, want %d", tc.files, got, tc.want)
		}
		if got > 0 && from == "" {
			t.Errorf("%v: no source file reported", tc.files)
		}
	}
}

func TestSetMemoryLimit(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(old)
	p := filepath.Join(t.TempDir(), "memory.max")
	if err := os.WriteFile(p, []byte("268435456\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Setenv("GOMEMLIMIT", "1GiB")
	os.Unsetenv("GOMEMLIMIT") // Setenv restores it after the test
	msg := setMemoryLimit([]string{p})
	limit := float64(256 << 20)
	if got, want := debug.SetMemoryLimit(-1), int64(limit*memoryLimitShare); got != want {
		t.Errorf("soft limit %d, want %d (%s)", got, want, msg)
	}
	if !strings.Contains(msg, "230 MiB") {
		t.Errorf("message %q does not say the limit", msg)
	}

	debug.SetMemoryLimit(old)
	t.Setenv("GOMEMLIMIT", "1GiB")
	if msg := setMemoryLimit([]string{p}); !strings.Contains(msg, "GOMEMLIMIT") {
		t.Errorf("with GOMEMLIMIT set: %q", msg)
	}
	if got := debug.SetMemoryLimit(-1); got != old {
		t.Errorf("with GOMEMLIMIT set the limit changed to %d", got)
	}
}

// TestSetGCPercent: holdfastd collects at GOGC=50 unless GOGC is set.
func TestSetGCPercent(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	t.Setenv("GOGC", "100")
	os.Unsetenv("GOGC") // Setenv restores it after the test
	setGCPercent()
	if got := debug.SetGCPercent(100); got != defaultGCPercent {
		t.Errorf("GC percent %d without GOGC, want %d", got, defaultGCPercent)
	}
	t.Setenv("GOGC", "200")
	setGCPercent()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC set the GC percent changed to %d", got)
	}
}
