//go:build linux

package client

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/holdfast-backup/holdfast/internal/pagecache"
)

// TestRestoreDropsPageCache checks that restored files of dropMinFile
// bytes or more are not left in the page cache (all their windows, and
// the partial last page), that smaller ones are (the kernel's writeback
// batches them better), and (so the check can fail) that the large ones
// are without the drop.
func TestRestoreDropsPageCache(t *testing.T) {
	s := newRSServer(t)
	r := s.initRepo(t)
	nodes := []*rsNode{
		rsFile("large", 0o644, rsData(rsRandom(1, 3*dropWindow+12345))),
		rsFile("medium", 0o644, rsData(rsRandom(2, dropMinFile+1))),
	}
	for i := range 100 {
		nodes = append(nodes, rsFile(fmt.Sprintf("small%03d", i), 0o644, rsData(rsRandom(uint64(i+3), 100+i*37))))
	}
	snap := rsSnapshot(t, r, nodes...)
	dir := t.TempDir()
	if ok, err := pagecache.Droppable(dir); err != nil || !ok {
		t.Skipf("%s keeps files in memory only (tmpfs?), so nothing is dropped (%v)", dir, err)
	}
	for _, keep := range []bool{false, true} {
		target := filepath.Join(dir, fmt.Sprintf("target-%v", keep))
		if _, err := r.Restore(context.Background(), snap, RestoreOptions{Target: target, keepCache: keep}); err != nil {
			t.Fatal(err)
		}
		// Before rsCheck reads them.
		resident, total := residentFiles(t, target, "large", "medium")
		smallResident, smallTotal := residentFiles(t, target, "small000", "small050", "small099")
		rsCheck(t, target, nodes, map[uint64]uint64{})
		t.Logf("keepCache %v: %d of %d pages cached (small files %d of %d)", keep, resident, total, smallResident, smallTotal)
		if smallResident != smallTotal {
			t.Errorf("small files: %d of %d pages cached, want all", smallResident, smallTotal)
		}
		switch {
		case !keep && resident > 0:
			t.Errorf("after restore %d of %d pages are still cached", resident, total)
		case keep && resident < total/2:
			// The control: if this fails, mincore cannot see the cache
			// here and the check above proves nothing.
			t.Skipf("with keepCache only %d of %d pages are cached: this file system bypasses the page cache", resident, total)
		}
	}
}

// residentFiles sums pagecache.Resident over the named files in dir.
func residentFiles(t *testing.T, dir string, names ...string) (resident, total int) {
	t.Helper()
	for _, name := range names {
		r, n, err := pagecache.Resident(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		resident += r
		total += n
	}
	return resident, total
}
