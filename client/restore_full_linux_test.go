package client

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/holdfast-backup/holdfast/internal/tmpfs"
)

// TestRestoreOntoAFullDisk restores more than a small tmpfs holds: the
// restore fails, and its error names the file once and says why ("…: write:
// no space left on device", not the system call's own "write f: …" again).
// It needs the right to mount (root, as on the project's machines and CI).
func TestRestoreOntoAFullDisk(t *testing.T) {
	dir := tmpfs.Mount(t, 1<<20)
	s := newRSServer(t)
	r := s.initRepo(t)
	snap := rsSnapshot(t, r, rsFile("big.bin", 0o644, rsData(rsRandom(1, 3<<20))))
	_, err := r.Restore(context.Background(), snap, RestoreOptions{Target: filepath.Join(dir, "target")})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("restore onto a full disk: %v, want ENOSPC", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "/big.bin: write: no space left on device") || strings.Count(msg, "big.bin") != 1 {
		t.Errorf("error %q: want the file named once, then write: no space left on device", msg)
	}
}
