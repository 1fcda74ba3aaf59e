//go:build linux

package local

import (
	"context"
	"os"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/holdfast-backup/holdfast/repo/backend"
)

// residentPages counts the pages of path that are in the page cache.
func residentPages(t *testing.T, path string) (resident, total int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	m, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	page := os.Getpagesize()
	vec := make([]byte, (len(m)+page-1)/page)
	_, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0])))
	if errno != 0 {
		t.Fatal(errno)
	}
	for _, v := range vec {
		if v&1 != 0 {
			resident++
		}
	}
	return resident, len(vec)
}

// TestPutDropsPageCache checks that an object is not left in the page
// cache after Put, and (so the check can fail) that it is without the drop.
func TestPutDropsPageCache(t *testing.T) {
	payload := make([]byte, 4<<20)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	for _, keep := range []bool{false, true} {
		b, err := New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		b.keepCache = keep
		name := backend.Name("r/packs/ab/x.00")
		if err := b.Put(context.Background(), name, backend.Bytes(payload)); err != nil {
			t.Fatal(err)
		}
		resident, total := residentPages(t, b.path(name))
		switch {
		case !keep && resident > total/8:
			t.Errorf("after Put %d of %d pages are still cached", resident, total)
		case keep && resident < total/2:
			// The control: if this fails, mincore cannot see the cache
			// here and the check above proves nothing.
			t.Skipf("with keepCache only %d of %d pages are cached: this file system bypasses the page cache", resident, total)
		}
	}
}
