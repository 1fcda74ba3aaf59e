//go:build linux

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// openPTY returns a pseudo-terminal's controller and the path of its
// terminal end, with x/sys/unix only.
func openPTY(t *testing.T) (*os.File, string) {
	t.Helper()
	fd, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("SKIP: no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		unix.Close(fd)
		t.Skipf("SKIP: unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		unix.Close(fd)
		t.Skipf("SKIP: pty number: %v", err)
	}
	if err := unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 160}); err != nil {
		unix.Close(fd)
		t.Skipf("SKIP: pty size: %v", err)
	}
	return os.NewFile(uintptr(fd), "/dev/ptmx"), "/dev/pts/" + strconv.Itoa(n)
}

// runOnTTY runs the client with stderr on a terminal and returns stdout
// and what the terminal showed.
func runOnTTY(t *testing.T, e cliEnv, args ...string) (stdout, tty string) {
	t.Helper()
	ptm, ptsPath := openPTY(t)
	defer ptm.Close()
	pts, err := os.OpenFile(ptsPath, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("SKIP: open %s: %v", ptsPath, err)
	}
	var screen bytes.Buffer
	var wg sync.WaitGroup
	wg.Go(func() { screen.ReadFrom(ptm) }) // ends with EIO once every terminal end is closed
	cmd := exec.Command(cliBinary(t), args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + e.cache, "XDG_CACHE_HOME=" + e.cache,
		"HOLDFAST_SERVER=" + e.server, "HOLDFAST_TOKEN=" + e.token, "HOLDFAST_REPO=" + e.repo, "HOLDFAST_PASSWORD=" + e.password}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, pts
	err = cmd.Run()
	pts.Close()
	wg.Wait()
	if err != nil {
		t.Fatalf("holdfast %v: %v\nterminal: %q", args, err, screen.String())
	}
	return out.String(), screen.String()
}

// TestCLIProgressOnTerminal runs backup and restore with stderr on a real
// pseudo-terminal: the bar shows bytes, files and rate there, while
// stdout (and --json) stay what they are without a terminal.
func TestCLIProgressOnTerminal(t *testing.T) {
	srv := newCLIServer(t)
	_, backup, _ := cliSetup(t, srv, "tty")
	dir := t.TempDir()
	for i := range 3 {
		if err := os.WriteFile(filepath.Join(dir, "f"+strconv.Itoa(i)), bytes.Repeat([]byte{byte(i)}, 300<<10), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stdout, tty := runOnTTY(t, backup, "backup", dir, "--json")
	if strings.Count(stdout, "\n") != 1 || !strings.Contains(stdout, `"message_type":"summary"`) {
		t.Errorf("--json stdout changed by the terminal: %q", stdout)
	}
	for _, want := range []string{"backup", "900.0 KiB / 900.0 KiB", "3 / 3 files", "/s"} {
		if !strings.Contains(tty, want) {
			t.Errorf("terminal lacks %q: %q", want, tty)
		}
	}
	target := t.TempDir()
	stdout, tty = runOnTTY(t, backup, "restore", "latest", "--target", target)
	if !strings.Contains(stdout, "restored snapshot") {
		t.Errorf("restore stdout: %q", stdout)
	}
	for _, want := range []string{"restore", "900.0 KiB / 900.0 KiB", "3 / 3 files", "/s"} {
		if !strings.Contains(tty, want) {
			t.Errorf("restore terminal lacks %q: %q", want, tty)
		}
	}
}
