//go:build linux

package local

import (
	"context"
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/holdfast-backup/holdfast/internal/tmpfs"
	"github.com/holdfast-backup/holdfast/repo/backend"
)

// checkUnmounted asserts that b, whose directory is no longer on the file
// system it was opened on, refuses writes and listings with
// ErrUnavailable and says so for reads of missing objects, without naming
// a path.
func checkUnmounted(t *testing.T, b *Backend) {
	t.Helper()
	ctx := context.Background()
	unavailable := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, backend.ErrUnavailable) {
			t.Errorf("%s: %v, want ErrUnavailable", op, err)
		} else if strings.Contains(err.Error(), b.root) {
			t.Errorf("%s: %q names the directory", op, err)
		}
	}
	unavailable("Put", b.Put(ctx, "r/packs/cd/y.01", backend.Bytes([]byte("y"))))
	unavailable("List", b.List(ctx, "", func(backend.Info) error { return nil }))
	_, err := b.Get(ctx, "r/packs/ef/none.00", 0, -1)
	unavailable("Get of a missing object", err)
	if !errors.Is(err, backend.ErrNotExist) {
		t.Errorf("Get of a missing object: %v, want ErrNotExist too", err)
	}
}

// TestStoreOnAnotherDevice: a store whose directory now lies on another
// file system than when it was opened (simulated here by the recorded
// device) is unavailable.
func TestStoreOnAnotherDevice(t *testing.T) {
	b, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Put(context.Background(), "r/packs/ab/x.00", backend.Bytes([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	b.dev++
	checkUnmounted(t, b)
	b.dev--
	if err := b.Put(context.Background(), "r/packs/cd/y.01", backend.Bytes([]byte("y"))); err != nil {
		t.Fatalf("Put on the right device again: %v", err)
	}
}

// TestUnmountedStore mounts a tmpfs as a store, writes to it, unmounts it
// under the open store and checks that the mount point left behind is not
// taken for the store: nothing is written into it. It needs the right to
// mount (root, as on the project's machines and CI).
func TestUnmountedStore(t *testing.T) {
	dir := tmpfs.Mount(t, 16<<20) // without it, TestStoreOnAnotherDevice covers the check
	b, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Put(context.Background(), "r/packs/ab/x.00", backend.Bytes([]byte("x"))); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Unmount(dir, 0); err != nil {
		t.Fatal(err)
	}
	checkUnmounted(t, b)
	if _, err := b.Get(context.Background(), "r/packs/ab/x.00", 0, -1); !errors.Is(err, backend.ErrUnavailable) {
		t.Errorf("Get of an object on the unmounted disk: %v, want ErrUnavailable", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("the mount point got %d entries written into it", len(left))
	}
}
