//go:build linux

package client

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/holdfast-backup/holdfast/internal/directio"
)

// TestRestoreKeepsHoles restores sparse files whose holes begin and end on
// and off block boundaries, one inside a block and one longer than the
// writeback window, with the page cache dropped behind and kept: the bytes
// must be exact and the holes unallocated.
func TestRestoreKeepsHoles(t *testing.T) {
	s := newRSServer(t)
	r := s.initRepo(t)
	sparse := map[string][]rsPart{
		"sparse-aligned": {rsHole(1 << 20), rsData(rsRandom(10, 70_000)), rsHole(3 << 20), rsData([]byte("tail")), rsHole(2 << 20)},
		"sparse-unaligned": {rsData(rsRandom(11, 5000)), rsHole(1000), rsData(rsRandom(12, 3000)),
			rsHole(8192 + 77), rsData(rsRandom(13, 2<<20)), rsHole(5<<20 + 1)},
		"sparse-window": {rsHole(4097), rsData(rsRandom(14, 1<<20+3)), rsHole(dropWindow), rsData(rsRandom(15, 9000))},
	}
	var nodes []*rsNode
	for name, parts := range sparse {
		nodes = append(nodes, rsFile(name, 0o600, parts...))
	}
	snap := rsSnapshot(t, r, nodes...)
	dir := t.TempDir()
	for _, keep := range []bool{false, true} {
		target := filepath.Join(dir, fmt.Sprintf("target-%v", keep))
		if _, err := r.Restore(context.Background(), snap, RestoreOptions{Target: target, keepCache: keep}); err != nil {
			t.Fatal(err)
		}
		rsCheck(t, target, nodes, map[uint64]uint64{})
		for name, parts := range sparse {
			checkAllocated(t, filepath.Join(target, name), parts)
		}
	}
}

// checkAllocated fails unless the file at path has no more blocks than its
// data extents touch: its holes were not written.
func checkAllocated(t *testing.T, path string, parts []rsPart) {
	t.Helper()
	var want, off int64
	for _, p := range parts {
		if p.hole > 0 {
			off += int64(p.hole)
			continue
		}
		end := off + int64(len(p.data))
		want += directio.AlignUp(end) - directio.AlignDown(off)
		off = end
	}
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	// Blocks counts 512-byte units; allow one block for the file system's
	// own bookkeeping.
	if got := st.Blocks * 512; got > want+directio.Align {
		t.Errorf("%s: %d bytes allocated, its data touches only %d: holes were written", filepath.Base(path), got, want)
	}
}
