package server

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/indexkey"
	"github.com/holdfast-backup/holdfast/internal/tmpfs"
	"github.com/holdfast-backup/holdfast/repo/index"
)

// TestUploadOnAFullDisk backs up more than the disk holds, with the index
// and the stores on one small tmpfs, as a server with its data directory
// on one disk has them. Before the index kept a ballast, the write-ahead
// log's ENOSPC made Pebble panic inside the upload (the client saw an
// HTTP/2 INTERNAL_ERROR) holding its commit lock, and every later write
// of the server hung. Now: the backup fails with ResourceExhausted, a
// write that meets ENOSPC in the index still commits, later writes are
// refused at once with ResourceExhausted, and reads and deletions work;
// once the disk is full to the last byte, deletions are refused too
// (ErrNoRoom) and the server still answers.
// It needs the right to mount (root, as on the project's machines and CI).
func TestUploadOnAFullDisk(t *testing.T) {
	// An 8 MiB ballast for the index, 16 MiB of somebody else's file and
	// 40 MiB for the backup. Mounted first, so it is unmounted after the
	// fixture has closed the engine.
	dir := tmpfs.Mount(t, 64<<20)
	f := newUpFixture(t, upOptions{local: true, root: dir, packTarget: 4 << 20, index: index.Options{BallastSize: 8 << 20}})
	other := filepath.Join(dir, "other")
	if err := os.WriteFile(other, make([]byte, 16<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	c := f.client(f.backup, false)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	chunks := sealChunks(t, "full disk", 96, 1<<20) // about 48 MiB, 72 MiB with parity
	header, refs := upHeader(t, chunks, "host")
	_, err := c.backupRun(ctx, chunks, header, refs)
	wantCode(t, "backup onto a full disk", err, connect.CodeResourceExhausted)

	// Fill what is left. The write-ahead log has room preallocated for a
	// memtable, so write the index until it needs more: the write that
	// meets ENOSPC commits, a later one is refused.
	fillDisk(t, filepath.Join(dir, "filler"))
	growIndexUntilFull(t, f)
	begin := func() error {
		_, err := c.upload.BeginSession(ctx, connect.NewRequest(&holdfastv1.BeginSessionRequest{Repo: c.repo}))
		return err
	}
	refused := begin()
	wantCode(t, "a session on a full disk", refused, connect.CodeResourceExhausted)
	if !strings.Contains(refused.Error(), "disk is full") {
		t.Errorf("refusal %q does not say the disk is full", refused)
	}
	if !f.eng.Index().DiskFull() {
		t.Error("the index does not report its disk full")
	}
	if _, err := c.snap.ListSnapshots(ctx, connect.NewRequest(&holdfastv1.ListSnapshotsRequest{Repo: c.repo})); err != nil {
		t.Errorf("listing snapshots on a full disk: %v", err)
	}

	// Something else takes the room the ballast gave back: now even a
	// deletion is refused (ErrNoRoom), and the server still answers. (This
	// small one would still have fitted in the space Pebble preallocates
	// for its log, but the index cannot see that space; a write past it
	// would make Pebble panic, so it refuses while the disk is this full.)
	fillDisk(t, filepath.Join(dir, "filler2"))
	del := f.eng.Index().NewBatch()
	del.DeleteChunk(f.id, randomID())
	if err := commitWithin(t, del); !errors.Is(err, index.ErrNoRoom) {
		t.Fatalf("a deletion on a disk full to the last byte: %v, want ErrNoRoom", err)
	}
	if _, err := c.snap.ListSnapshots(ctx, connect.NewRequest(&holdfastv1.ListSnapshotsRequest{Repo: c.repo})); err != nil {
		t.Errorf("listing snapshots on a disk full to the last byte: %v", err)
	}
	if err := os.Remove(filepath.Join(dir, "filler2")); err != nil {
		t.Fatal(err)
	}
	del = f.eng.Index().NewBatch()
	del.DeleteChunk(f.id, randomID())
	if err := commitWithin(t, del); err != nil {
		t.Fatalf("a deletion with the ballast's room free again: %v", err)
	}

	// Space freed: the index takes writes again (after its recheck).
	for _, name := range []string{"filler", other} {
		if err := os.Remove(filepath.Join(dir, filepath.Base(name))); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for err = begin(); err != nil && time.Now().Before(deadline); err = begin() {
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("a session once space is free again: %v", err)
	}
}

// growIndexUntilFull commits batches of chunk records until the index
// refuses one with ErrDiskFull; each commit must return (no hang).
func growIndexUntilFull(t *testing.T, f *upFixture) {
	t.Helper()
	for i := range 200 {
		b := f.eng.Index().NewBatch()
		for range 10_000 {
			b.PutChunk(f.id, randomID(), indexkey.ChunkLoc{Pack: randomID(), Length: 1})
		}
		done := make(chan error, 1)
		go func() { done <- b.Commit(false) }()
		select {
		case err := <-done:
			if errors.Is(err, index.ErrDiskFull) {
				return
			}
			if err != nil {
				t.Fatalf("index batch %d on a full disk: %v, want success or ErrDiskFull", i, err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("index batch %d on a full disk hangs", i)
		}
	}
	t.Fatal("the index never reported its disk full")
}

// commitWithin commits b and fails the test if that hangs.
func commitWithin(t *testing.T, b *index.Batch) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- b.Commit(true) }()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("an index commit on a full disk hangs")
		return nil
	}
}

// fillDisk writes a file at path until its file system is full.
func fillDisk(t *testing.T, path string) {
	t.Helper()
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := fh.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	// Page-sized writes can leave a partial page; fill it too.
	fh.Write(buf[:1])
}
