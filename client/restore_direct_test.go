//go:build linux

package client

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/holdfast-backup/holdfast/internal/directio"
)

// TestRestoreDirect restores large files whose sizes and holes fall on and
// off block and window boundaries, with direct I/O and (the control)
// through the page cache: the bytes must be exact, holes must stay
// unallocated, and the direct path must be the one taken for the new files
// of dropMinFile bytes or more.
func TestRestoreDirect(t *testing.T) {
	s := newRSServer(t)
	r := s.initRepo(t)
	sizes := []int{dropMinFile - 1, dropMinFile, directWriteWindow, directWriteWindow + 1, 3*directWriteWindow + 12345}
	var nodes []*rsNode
	for i, n := range sizes {
		nodes = append(nodes, rsFile(fmt.Sprintf("plain%d", i), 0o644, rsData(rsRandom(uint64(i+1), n))))
	}
	sparse := map[string][]rsPart{
		// Holes on block boundaries, and a few bytes alone in a block.
		"sparse-aligned": {rsHole(1 << 20), rsData(rsRandom(10, 70_000)), rsHole(3 << 20), rsData([]byte("tail")), rsHole(2 << 20)},
		// Holes that begin and end inside blocks, one inside a block.
		"sparse-unaligned": {rsData(rsRandom(11, 5000)), rsHole(1000), rsData(rsRandom(12, 3000)),
			rsHole(8192 + 77), rsData(rsRandom(13, 2<<20)), rsHole(5<<20 + 1)},
		// A hole as long as a window, starting mid-block.
		"sparse-window": {rsHole(4097), rsData(rsRandom(14, 1<<20+3)), rsHole(directWriteWindow), rsData(rsRandom(15, 9000))},
	}
	for name, parts := range sparse {
		nodes = append(nodes, rsFile(name, 0o600, parts...))
	}
	snap := rsSnapshot(t, r, nodes...)
	dir := t.TempDir()
	for _, keep := range []bool{false, true} {
		target := filepath.Join(dir, fmt.Sprintf("target-%v", keep))
		var direct atomic.Int64
		if _, err := r.Restore(context.Background(), snap, RestoreOptions{Target: target, keepCache: keep, directFiles: &direct}); err != nil {
			t.Fatal(err)
		}
		rsCheck(t, target, nodes, map[uint64]uint64{})
		for name, parts := range sparse {
			checkAllocated(t, filepath.Join(target, name), parts)
		}
		want := int64(len(sizes) - 1 + len(sparse))
		if keep {
			want = 0
		}
		if got := direct.Load(); got != want {
			t.Errorf("keepCache %v: %d files written with direct I/O, want %d", keep, got, want)
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
