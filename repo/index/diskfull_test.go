package index

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/indexkey"
)

// fullDisk is a file system with a fixed number of bytes left: a write
// that does not fit fails with ENOSPC and writes nothing.
type fullDisk struct {
	vfs.FS
	left atomic.Int64
}

func (d *fullDisk) wrap(f vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	return &fullFile{File: f, d: d}, nil
}

func (d *fullDisk) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	return d.wrap(d.FS.Create(name, c))
}

func (d *fullDisk) OpenReadWrite(name string, c vfs.DiskWriteCategory, o ...vfs.OpenOption) (vfs.File, error) {
	return d.wrap(d.FS.OpenReadWrite(name, c, o...))
}

func (d *fullDisk) ReuseForWrite(old, name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	return d.wrap(d.FS.ReuseForWrite(old, name, c))
}

// take claims n bytes of the disk, or fails as a full disk does.
func (d *fullDisk) take(n int) error {
	if d.left.Add(-int64(n)) < 0 {
		d.left.Add(int64(n))
		return &os.PathError{Op: "write", Path: "index", Err: syscall.ENOSPC}
	}
	return nil
}

type fullFile struct {
	vfs.File
	d *fullDisk
}

func (f *fullFile) Write(p []byte) (int, error) {
	if err := f.d.take(len(p)); err != nil {
		return 0, err
	}
	return f.File.Write(p)
}

func (f *fullFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.d.take(len(p)); err != nil {
		return 0, err
	}
	return f.File.WriteAt(p, off)
}

// openOnDisk opens an index on disk with a 1 MiB ballast, the guard's view
// of free space and of the ballast wired to disk's count.
func openOnDisk(t *testing.T, dir string, disk *fullDisk) (*Index, *diskGuard) {
	t.Helper()
	var g *diskGuard
	x, err := Open(dir, Options{BallastSize: 1 << 20, PresenceMemory: -1, fs: disk, guard: func(dg *diskGuard) {
		g = dg
		dg.free = func(string) (int64, error) { return disk.left.Load(), nil }
		dg.reserve = func(p string, n int64) error {
			if err := disk.take(int(n)); err != nil {
				return err
			}
			return reserveFile(p, n)
		}
		dg.remove = func(p string) error {
			disk.left.Add(dg.size)
			return os.Remove(p)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	return x, g
}

func putChunks(x *Index, repo uint32, ids ...format.ID) error {
	b := x.NewBatch()
	defer b.Close()
	for _, id := range ids {
		b.PutChunk(repo, id, indexkey.ChunkLoc{Pack: format.ID{9}, Length: 100})
	}
	return b.Commit(true)
}

// wantChunks checks which of the chunks in want repository repo holds
// after a reopen.
func wantChunks(t *testing.T, x *Index, repo uint32, want map[format.ID]bool) {
	t.Helper()
	for id, present := range want {
		_, err := x.GetChunk(repo, id)
		if got := err == nil; got != present || (err != nil && !errors.Is(err, ErrNotFound)) {
			t.Errorf("chunk %x after reopen: present %v (%v), want %v", id[:1], got, err, present)
		}
	}
}

// TestDiskFull fills the index's disk under a real Pebble: the write that
// meets ENOSPC commits (the ballast makes room for Pebble's retry) instead
// of panicking and wedging every later commit; then batches that take new
// data fail with ErrDiskFull while garbage collection's still commit; once there is
// room again the ballast comes back and writes resume; nothing committed
// is lost across a reopen.
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	disk := &fullDisk{FS: vfs.Default}
	disk.left.Store(math.MaxInt64 / 2)
	x, g := openOnDisk(t, dir, disk)
	if _, err := os.Stat(filepath.Join(dir, ballastName)); err != nil {
		t.Fatalf("no ballast after Open: %v", err)
	}
	const repo = 1
	if err := putChunks(x, repo, format.ID{1}); err != nil {
		t.Fatal(err)
	}

	disk.left.Store(0)
	done := make(chan error, 1)
	go func() { done <- putChunks(x, repo, format.ID{2}) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the commit that met ENOSPC: %v, want it committed with the ballast's room", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the commit that met ENOSPC hangs")
	}
	if !x.DiskFull() {
		t.Fatal("DiskFull() = false after ENOSPC")
	}
	if _, err := os.Stat(filepath.Join(dir, ballastName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ballast still there after ENOSPC: %v", err)
	}
	if err := putChunks(x, repo, format.ID{3}); !errors.Is(err, ErrDiskFull) {
		t.Fatalf("put on a full disk: %v, want ErrDiskFull", err)
	}
	// Collecting garbage goes on: deletions and pack counts.
	gc := x.NewBatch()
	gc.DeleteChunk(repo, format.ID{1})
	gc.PutPack(repo, format.ID{9}, indexkey.PackRecord{Length: 100, K: 4, M: 2, Stores: []uint16{0, 0, 0, 0, 0, 0}})
	if err := gc.Commit(true); err != nil {
		t.Fatalf("collecting garbage on a full disk: %v", err)
	}

	// Room again (the ballast and a quarter more): after diskRecheck the
	// ballast returns and puts commit.
	disk.left.Store(2 << 20)
	g.mu.Lock()
	g.lastCheck = time.Time{}
	g.mu.Unlock()
	if err := putChunks(x, repo, format.ID{4}); err != nil {
		t.Fatalf("put once the disk has room: %v", err)
	}
	if x.DiskFull() {
		t.Fatal("DiskFull() = true with room on the disk")
	}
	if st, err := os.Stat(filepath.Join(dir, ballastName)); err != nil || st.Size() != 1<<20 {
		t.Fatalf("ballast not back: %v", err)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}

	x, _ = openOnDisk(t, dir, disk)
	defer x.Close()
	wantChunks(t, x, repo, map[format.ID]bool{{1}: false, {2}: true, {3}: false, {4}: true})
}

// TestDiskFullNoRoom: once the ballast is spent and something else fills
// the disk to the last byte, even a deletion is refused with ErrNoRoom
// (Pebble would panic on the write-ahead-log write that meets ENOSPC, and
// wedge every later commit); with a little room back, deletions commit
// again while new data stays refused.
func TestDiskFullNoRoom(t *testing.T) {
	dir := t.TempDir()
	disk := &fullDisk{FS: vfs.Default}
	disk.left.Store(math.MaxInt64 / 2)
	x, _ := openOnDisk(t, dir, disk)
	const repo = 1
	if err := putChunks(x, repo, format.ID{1}, format.ID{2}); err != nil {
		t.Fatal(err)
	}
	disk.left.Store(0)
	if err := putChunks(x, repo, format.ID{3}); err != nil {
		t.Fatalf("the commit that met ENOSPC: %v", err)
	}
	disk.left.Store(0) // another writer takes what the ballast freed

	deleteChunk := func(id format.ID) error {
		b := x.NewBatch()
		defer b.Close()
		b.DeleteChunk(repo, id)
		return b.Commit(true)
	}
	done := make(chan error, 1)
	go func() { done <- deleteChunk(format.ID{1}) }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNoRoom) || !errors.Is(err, ErrDiskFull) {
			t.Fatalf("deletion on a disk with no room: %v, want ErrNoRoom", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a deletion on a disk with no room hangs")
	}

	// Room for a deletion, not for the ballast and a quarter more.
	disk.left.Store(1<<20/16 + 64<<10) // openOnDisk's ballast is 1 MiB
	if err := deleteChunk(format.ID{1}); err != nil {
		t.Fatalf("deletion with room for it: %v", err)
	}
	if err := putChunks(x, repo, format.ID{4}); !errors.Is(err, ErrDiskFull) || errors.Is(err, ErrNoRoom) {
		t.Fatalf("put on the still full disk: %v, want ErrDiskFull (not ErrNoRoom)", err)
	}
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	disk.left.Store(math.MaxInt64 / 2)
	x, _ = openOnDisk(t, dir, disk)
	defer x.Close()
	wantChunks(t, x, repo, map[format.ID]bool{{1}: false, {2}: true, {3}: true, {4}: false})
}
