//go:build linux

package local

import (
	"context"
	"io"
	"testing"

	"github.com/holdfast-backup/holdfast/internal/pagecache"
	"github.com/holdfast-backup/holdfast/repo/backend"
)

// needDroppable skips the test where dropped pages cannot leave the cache.
func needDroppable(t *testing.T, dir string) {
	t.Helper()
	if ok, err := pagecache.Droppable(dir); err != nil || !ok {
		t.Skipf("%s keeps files in memory only (tmpfs?), so nothing is dropped (%v)", dir, err)
	}
}

// cacheTestStore returns a new store in a directory whose file system can
// drop pages, and a 4 MiB payload to store in it.
func cacheTestStore(t *testing.T) (*Backend, []byte) {
	t.Helper()
	dir := t.TempDir()
	needDroppable(t, dir)
	b, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, 4<<20)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	return b, payload
}

// residentPages counts the pages of path that are in the page cache.
func residentPages(t *testing.T, path string) (resident, total int) {
	t.Helper()
	resident, total, err := pagecache.Resident(path)
	if err != nil {
		t.Fatal(err)
	}
	return resident, total
}

// TestPutDropsPageCache checks that an object is not left in the page
// cache after Put, and (so the check can fail) that it is without the drop.
func TestPutDropsPageCache(t *testing.T) {
	for _, keep := range []bool{false, true} {
		b, payload := cacheTestStore(t)
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

// TestGetDropsPageCache checks that the pages a Get read are not left in
// the page cache, and (so the check can fail) that they are without the
// drop.
func TestGetDropsPageCache(t *testing.T) {
	ctx := context.Background()
	for _, keep := range []bool{false, true} {
		b, payload := cacheTestStore(t)
		name := backend.Name("r/packs/ab/x.00")
		if err := b.Put(ctx, name, backend.Bytes(payload)); err != nil {
			t.Fatal(err)
		}
		b.keepCache = keep
		// Two ranges, one of them ending mid-page, then the rest.
		for _, r := range [][2]int64{{0, 1 << 20}, {1 << 20, 1<<20 + 1000}, {2<<20 + 1000, -1}} {
			rc, err := b.Get(ctx, name, r[0], r[1])
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, rc); err != nil {
				t.Fatal(err)
			}
			if err := rc.Close(); err != nil {
				t.Fatal(err)
			}
		}
		resident, total := residentPages(t, b.path(name))
		switch {
		case !keep && resident > total/8: // the kernel may keep a few
			t.Errorf("after Get %d of %d pages are still cached", resident, total)
		case keep && resident < total/2:
			t.Skipf("with keepCache only %d of %d pages are cached: this file system bypasses the page cache", resident, total)
		}
	}
}
