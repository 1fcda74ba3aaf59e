package tmpfs

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// Mount mounts a tmpfs of size bytes on a new directory under t.TempDir()
// and returns the directory. It is unmounted when the test ends, after the
// cleanups the test registers later (so that a server started on it is
// closed first); a test may unmount it itself before. Without the right to
// mount, the test is skipped.
func Mount(t testing.TB, size int64) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tmpfs")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+strconv.FormatInt(size, 10)); err != nil {
		t.Skipf("SKIP: cannot mount a tmpfs here (%v)", err)
	}
	t.Cleanup(func() {
		// EINVAL: the test unmounted it already.
		if err := syscall.Unmount(dir, 0); err != nil && !errors.Is(err, syscall.EINVAL) {
			t.Errorf("unmount the test's tmpfs: %v", err)
		}
	})
	return dir
}
