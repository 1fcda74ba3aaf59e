package client

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	holdfastv1 "github.com/holdfast-backup/holdfast/format/gen/holdfast/v1"
)

// TestBackupUnreadable: files that cannot be read are listed in the
// summary and left out, and the snapshot still commits.
//
// Root reads a file of mode 000, so the permission error is injected at
// open (backupHooks.open) for one file; when the test does not run as
// root a second file really has mode 000. A file that vanishes between
// the directory listing and lstat is injected the same way. The CLI test
// (cmd/holdfast) covers a real mode-000 file, dropping to uid 65534 when
// it runs as root.
func TestBackupUnreadable(t *testing.T) {
	srv := newBkServer(t)
	r := srv.initRepo(t, "unreadable", bkTestParams)
	dir := t.TempDir()
	bkWrite(t, filepath.Join(dir, "ok.txt"), []byte("fine"))
	bkWrite(t, filepath.Join(dir, "secret"), []byte("injected EACCES"))
	bkWrite(t, filepath.Join(dir, "sub", "mode000"), []byte("really unreadable"))
	bkWrite(t, filepath.Join(dir, "sub", "hl"), []byte("hard link to secret's sibling"))
	want := map[string]bool{filepath.Join(dir, "secret"): true}
	if os.Geteuid() != 0 {
		if err := os.Chmod(filepath.Join(dir, "sub", "mode000"), 0); err != nil {
			t.Fatal(err)
		}
		want[filepath.Join(dir, "sub", "mode000")] = true
	}
	backupHooks.open = func(p string) error {
		if p == filepath.Join(dir, "secret") {
			return unix.EACCES
		}
		return nil
	}
	defer func() { backupHooks.open = nil }()

	sum, err := r.Backup(context.Background(), BackupOptions{Paths: []string{dir}, Host: "h", NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, fe := range sum.Errors {
		got[fe.Path] = true
		if !errors.Is(fe.Err, unix.EACCES) {
			t.Errorf("%s: %v, want EACCES", fe.Path, fe.Err)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("errors %v, want %v", sum.Errors, want)
	}
	for p := range want {
		if !got[p] {
			t.Fatalf("errors %v, want %v", sum.Errors, want)
		}
	}
	h := bkHeader(t, r, sum.SnapshotID).Header
	if stored := uint64(4 - len(want)); sum.FilesNew != stored || h.Files != stored {
		t.Errorf("files: %d new, header %d; want %d (unreadable ones left out)", sum.FilesNew, h.Files, stored)
	}
	trees := bkSnapshotTree(t, r, h.Root)
	for _, e := range trees[""] {
		if e.Name == "secret" {
			t.Fatal("unreadable file is in the snapshot")
		}
	}
	bkEntry(t, trees[""], "ok.txt")
}

// TestBackupChangedWhileRead: a file that changes during the read is read
// again; one that changes during both reads is stored as last read and
// reported.
func TestBackupChangedWhileRead(t *testing.T) {
	srv := newBkServer(t)
	r := srv.initRepo(t, "changing", bkTestParams)
	dir := t.TempDir()
	once, always := filepath.Join(dir, "once.log"), filepath.Join(dir, "always.log")
	bkWrite(t, once, bkRandom(1, 50<<10))
	bkWrite(t, always, bkRandom(2, 50<<10))
	appendTo := func(p string) {
		f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			return
		}
		f.Write([]byte("more\n"))
		f.Close()
	}
	reads := map[string]int{}
	backupHooks.afterRead = func(p string, attempt int) {
		reads[p]++ // Workers: 1, so one goroutine writes the map
		if p == always || (p == once && attempt == 0) {
			appendTo(p)
		}
	}
	defer func() { backupHooks.afterRead = nil }()

	sum, err := r.Backup(context.Background(), BackupOptions{Paths: []string{dir}, Host: "h", NoCache: true, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Errors) != 1 || sum.Errors[0].Path != always || !errors.Is(sum.Errors[0].Err, errBkChanged) {
		t.Fatalf("errors: %v", sum.Errors)
	}
	if reads[once] != 2 || reads[always] != 2 {
		t.Fatalf("reads: %v", reads)
	}
	root := bkSnapshotTree(t, r, bkHeader(t, r, sum.SnapshotID).Header.Root)[""]
	if e := bkEntry(t, root, "once.log"); e.Size != 50<<10+5 {
		t.Errorf("once.log: size %d, want the re-read %d", e.Size, 50<<10+5)
	} else {
		data, _ := os.ReadFile(once)
		if string(bkReadContent(t, r, e.Content)) != string(data) {
			t.Error("once.log: content is not the re-read file")
		}
	}
	if e := bkEntry(t, root, "always.log"); e.Size != 50<<10+5 {
		t.Errorf("always.log: size %d, want what the second read saw, %d", e.Size, 50<<10+5)
	}
}

// TestBackupRoles: a backup token backs up; a restore token is refused
// before anything is read.
func TestBackupRoles(t *testing.T) {
	srv := newBkServer(t)
	r := srv.initRepo(t, "roles", bkTestParams)
	dir := t.TempDir()
	bkWrite(t, filepath.Join(dir, "f"), []byte("data"))
	opts := BackupOptions{Paths: []string{dir}, Host: "h", NoCache: true}

	rb := srv.as(t, r, holdfastv1.Role_ROLE_BACKUP)
	if _, err := rb.Backup(context.Background(), opts); err != nil {
		t.Fatalf("backup token: %v", err)
	}
	// A backup token can also read its parent's trees and references.
	sum, err := rb.Backup(context.Background(), opts)
	if err != nil || sum.Previous != "parent" || sum.BytesRead != 0 {
		t.Fatalf("backup token, incremental: %+v, %v", sum, err)
	}
	rr := srv.as(t, r, holdfastv1.Role_ROLE_RESTORE)
	_, err = rr.Backup(context.Background(), opts)
	if !errors.Is(err, ErrDenied) || !strings.Contains(err.Error(), "restore") {
		t.Fatalf("restore token: %v, want ErrDenied", err)
	}
}

// TestBackupCanceled: a backup canceled mid-way commits nothing, aborts
// its session and leaves the cache alone; the next one succeeds.
func TestBackupCanceled(t *testing.T) {
	srv := newBkServer(t)
	r := srv.initRepo(t, "canceled", bkTestParams)
	dir := t.TempDir()
	for i := range 20 {
		bkWrite(t, filepath.Join(dir, "f"+strconv.Itoa(i)), bkRandom(uint64(i), 64<<10))
	}
	ctx, cancel := context.WithCancel(context.Background())
	backupHooks.afterRead = func(string, int) { cancel() }
	cache := t.TempDir()
	_, err := r.Backup(ctx, BackupOptions{Paths: []string{dir}, Host: "h", CacheDir: cache})
	backupHooks.afterRead = nil
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled backup: %v", err)
	}
	if snaps, err := r.Snapshots(context.Background()); err != nil || len(snaps) != 0 {
		t.Fatalf("after a canceled backup: %d snapshots, %v", len(snaps), err)
	}
	leftovers, _ := filepath.Glob(filepath.Join(cache, "*", "*", "*"))
	if len(leftovers) != 0 {
		t.Fatalf("cache files left: %q", leftovers)
	}
	sum, err := r.Backup(context.Background(), BackupOptions{Paths: []string{dir}, Host: "h", CacheDir: cache})
	if err != nil || sum.FilesNew != 20 {
		t.Fatalf("backup after cancel: %+v, %v", sum, err)
	}
}

// TestBackupCacheNotSaved: a cache directory that cannot be written (here
// under a regular file) fails nothing: the snapshot commits, the summary
// says why the cache was not saved, and the next backup, with no cache,
// recognises the unchanged files from the parent's trees.
func TestBackupCacheNotSaved(t *testing.T) {
	srv := newBkServer(t)
	r := srv.initRepo(t, "cache-not-saved", bkTestParams)
	dir := t.TempDir()
	for i := range 5 {
		bkWrite(t, filepath.Join(dir, "f"+strconv.Itoa(i)), bkRandom(uint64(i), 8<<10))
	}
	blocker := filepath.Join(t.TempDir(), "file")
	bkWrite(t, blocker, []byte("not a directory"))
	opts := BackupOptions{Paths: []string{dir}, Host: "h", CacheDir: filepath.Join(blocker, "cache")}
	sum, err := r.Backup(context.Background(), opts)
	if err != nil {
		t.Fatalf("backup with an unwritable cache: %v", err)
	}
	if !errors.Is(sum.CacheError, syscall.ENOTDIR) {
		t.Errorf("CacheError = %v, want ENOTDIR", sum.CacheError)
	}
	sum, err = r.Backup(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if sum.FilesUnmodified != 5 || sum.BytesRead != 0 || sum.Previous != "parent" {
		t.Errorf("second backup: %d unmodified, %d bytes read, from %q; want 5, 0, parent", sum.FilesUnmodified, sum.BytesRead, sum.Previous)
	}
	okSum, err := r.Backup(context.Background(), BackupOptions{Paths: []string{dir}, Host: "h", CacheDir: t.TempDir()})
	if err != nil || okSum.CacheError != nil {
		t.Fatalf("backup with a writable cache: %v, cache error %v", err, okSum.CacheError)
	}
}
