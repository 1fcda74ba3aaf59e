package client

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/holdfast-backup/holdfast/format"
	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
	"github.com/holdfast-backup/holdfast/format/tree"
)

// bkHoldUnwrap makes every unwrap wait until the backup's scanner has
// listed the whole tree (or 10 s passed), so the work done before the keys
// really runs first, and reports whether it did.
func bkHoldUnwrap(t *testing.T) (overlapped func() bool) {
	scanned := make(chan struct{}, 16)
	var held, early int
	openHooks.beforeUnwrap = func() {
		held++
		select {
		case <-scanned:
			early++
		case <-time.After(10 * time.Second):
		}
	}
	backupHooks.scanned = func() { scanned <- struct{}{} }
	t.Cleanup(func() { openHooks.beforeUnwrap, backupHooks.scanned = nil, nil })
	return func() bool { ok := held > 0 && early == held; held, early = 0, 0; return ok }
}

// TestBackupWhileUnlocking backs up with the keys unwrapped in the
// background (what the CLI does), held back until the tree is listed: the
// snapshot matches the file system entry for entry, an unchanged backup
// reads and uploads nothing and gives the same trees, and a wrong password
// fails with ErrWrongPassword, commits nothing and uploads nothing.
func TestBackupWhileUnlocking(t *testing.T) {
	ctx := context.Background()
	srv := newBkServer(t)
	r := srv.initRepo(t, "unlocking", bkTestParams)
	dir := t.TempDir()
	bkMakeEveryType(t, dir)
	token := srv.token(t, r.Repo(), holdfastv1.Role_ROLE_BACKUP)
	open := func(password string) *Unlocking {
		t.Helper()
		u, err := StartOpen(ctx, Dial(Config{Server: srv.url, Token: token, Repo: r.Repo()}), []byte(password))
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	overlapped := bkHoldUnwrap(t)
	opts := BackupOptions{Paths: []string{dir}, Host: "h", CacheDir: t.TempDir()}

	sum, err := open("pw").Backup(ctx, opts)
	if err != nil || len(sum.Errors) != 0 {
		t.Fatalf("first backup: %+v, %v", sum, err)
	}
	if !overlapped() {
		t.Error("the unwrap was not overlapped with the scan")
	}
	h := bkHeader(t, r, sum.SnapshotID).Header
	trees := bkCheckTree(t, r, h.Root, dir)
	var nonDirs uint64
	for _, entries := range trees {
		for _, e := range entries {
			if e.Type != tree.Dir {
				nonDirs++
			}
		}
	}
	if sum.FilesNew != nonDirs || sum.BytesRead == 0 || sum.Previous != "none" {
		t.Fatalf("first backup: %+v, want %d new files", sum, nonDirs)
	}

	sum2, err := open("pw").Backup(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if sum2.BytesRead != 0 || sum2.BytesUploaded != 0 || sum2.FilesUnmodified != nonDirs || sum2.Previous != "cache" ||
		sum2.Parent != sum.SnapshotID {
		t.Fatalf("unchanged backup: %+v", sum2)
	}
	if h2 := bkHeader(t, r, sum2.SnapshotID).Header; !slices.Equal(h2.Root, h.Root) || h2.RefsHash != h.RefsHash {
		t.Fatal("unchanged backup has another root tree or reference list")
	}
	if !overlapped() {
		t.Error("the unwrap was not overlapped with the scan")
	}

	// A new file, then a wrong password: refused as by Open, nothing
	// committed, the new file's chunk never reached the server.
	fresh := bkRandom(77, 20<<10)
	bkWrite(t, filepath.Join(dir, "fresh"), fresh)
	_, err = open("wrong").Backup(ctx, opts)
	if !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("wrong password: %v", err)
	}
	if snaps, err := r.Snapshots(ctx); err != nil || len(snaps) != 2 {
		t.Fatalf("after the wrong password: %d snapshots, %v", len(snaps), err)
	}
	repoID, err := srv.eng.RepositoryID(r.Repo())
	if err != nil {
		t.Fatal(err)
	}
	freshID := r.Sealer.ID(fresh)
	if missing, err := srv.eng.Missing(repoID, []format.ID{freshID}); err != nil || len(missing) != 1 {
		t.Fatalf("the new file's chunk reached the server with a wrong password (%v)", err)
	}

	// The right password again picks up where the last commit left off.
	sum3, err := open("pw").Backup(ctx, opts)
	if err != nil || sum3.FilesNew != 1 || sum3.BytesRead != uint64(len(fresh)) || sum3.Parent != sum2.SnapshotID {
		t.Fatalf("backup after the wrong password: %+v, %v", sum3, err)
	}
}

// TestBackupUnchangedXattrs: xattrs of an entry whose inode and ctime did
// not change are taken from the parent, and a changed xattr (which moves
// the ctime) is read again.
func TestBackupUnchangedXattrs(t *testing.T) {
	ctx := context.Background()
	srv := newBkServer(t)
	r := srv.initRepo(t, "xattrs", bkTestParams)
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	bkWrite(t, p, []byte("content"))
	if err := unix.Setxattr(p, "user.v", []byte("1"), 0); err != nil {
		t.Skipf("SKIP: no user xattrs here: %v", err)
	}
	opts := BackupOptions{Paths: []string{dir}, Host: "h", CacheDir: t.TempDir()}
	xattr := func(sum *BackupSummary) string {
		t.Helper()
		trees := bkSnapshotTree(t, r, bkHeader(t, r, sum.SnapshotID).Header.Root)
		xs := bkEntry(t, trees[""], "f").Xattrs
		if len(xs) != 1 || xs[0].Name != "user.v" {
			t.Fatalf("xattrs %+v", xs)
		}
		return string(xs[0].Value)
	}
	for i, want := range []string{"1", "1", "2", "2"} {
		if i == 2 {
			if err := unix.Setxattr(p, "user.v", []byte("2"), 0); err != nil {
				t.Fatal(err)
			}
		}
		sum, err := r.Backup(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		if got := xattr(sum); got != want {
			t.Errorf("backup %d: xattr %q, want %q", i+1, got, want)
		}
		if unchanged := i == 1 || i == 3; unchanged && (sum.BytesRead != 0 || sum.FilesUnmodified != 1) {
			t.Errorf("backup %d, nothing changed: %+v", i+1, sum)
		}
	}
}

// TestBackupScanAhead: a directory with more entries than the scanner may
// list ahead, holding a subdirectory, backs up (the walker holds the big
// listing while it waits for the subdirectory's), and so do many small
// directories that fill the look-ahead.
func TestBackupScanAhead(t *testing.T) {
	old := bkScanAhead
	bkScanAhead = 8
	t.Cleanup(func() { bkScanAhead = old })
	srv := newBkServer(t)
	r := srv.initRepo(t, "scan-ahead", bkTestParams)
	dir := t.TempDir()
	for i := range 20 {
		bkWrite(t, filepath.Join(dir, "big", fmt.Sprintf("f%02d", i)), []byte{byte(i)})
	}
	bkWrite(t, filepath.Join(dir, "big", "m-sub", "deep", "leaf"), []byte("leaf"))
	for i := range 30 {
		bkWrite(t, filepath.Join(dir, "many", fmt.Sprintf("d%02d", i), "f"), []byte{byte(i)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sum, err := r.Backup(ctx, BackupOptions{Paths: []string{dir}, Host: "h", NoCache: true})
	if err != nil || len(sum.Errors) != 0 || sum.FilesNew != 20+1+30 {
		t.Fatalf("backup: %+v, %v", sum, err)
	}
	bkCheckTree(t, r, bkHeader(t, r, sum.SnapshotID).Header.Root, dir)
}
