package tmpfs

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestMount: the mount holds about its size and no more.
func TestMount(t *testing.T) {
	dir := Mount(t, 1<<20)
	err := os.WriteFile(filepath.Join(dir, "f"), make([]byte, 2<<20), 0o600)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("2 MiB into a 1 MiB tmpfs: %v, want ENOSPC", err)
	}
}
