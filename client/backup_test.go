package client

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/tree"
)

// bkRandom returns n deterministic pseudo-random bytes.
func bkRandom(seed uint64, n int) []byte {
	b := make([]byte, n)
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	rand.NewChaCha8(key).Read(b)
	return b
}

func bkWrite(t testing.TB, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// bkFeatures says which optional kinds of entry the machine let the test
// create.
type bkFeatures struct{ xattrs, devices, chown bool }

// bkMakeEveryType fills dir with one of everything a tree can hold.
func bkMakeEveryType(t *testing.T, dir string) bkFeatures {
	var f bkFeatures
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	bkWrite(t, filepath.Join(dir, "small.txt"), []byte("hello, holdfast\n"))
	bkWrite(t, filepath.Join(dir, "empty"), nil)
	bkWrite(t, filepath.Join(dir, "big.bin"), bkRandom(1, 300<<10))
	bkWrite(t, filepath.Join(dir, "sub", "compressible.txt"), bytes.Repeat([]byte("all work and no play "), 10000))
	bkWrite(t, filepath.Join(dir, "sub", "deep", "er", "leaf"), []byte("leaf"))
	must(os.MkdirAll(filepath.Join(dir, "empty-dir"), 0o755))

	// Sparse: 4 MiB with data at 1 MiB (40 KiB) and 3 MiB (10 KiB).
	sp, err := os.Create(filepath.Join(dir, "sparse"))
	must(err)
	must(sp.Truncate(4 << 20))
	_, err = sp.WriteAt(bkRandom(2, 40<<10), 1<<20)
	must(err)
	_, err = sp.WriteAt(bkRandom(3, 10<<10), 3<<20)
	must(err)
	must(sp.Close())

	// Hard links: three names, two directories.
	bkWrite(t, filepath.Join(dir, "hl-a"), bkRandom(4, 100<<10))
	must(os.Link(filepath.Join(dir, "hl-a"), filepath.Join(dir, "hl-c")))
	must(os.Link(filepath.Join(dir, "hl-a"), filepath.Join(dir, "sub", "hl-b")))

	must(os.Symlink("small.txt", filepath.Join(dir, "link-rel")))
	must(os.Symlink("/etc/passwd", filepath.Join(dir, "link-abs")))
	must(os.Symlink("nowhere/at/all", filepath.Join(dir, "link-dangling")))
	must(unix.Mkfifo(filepath.Join(dir, "fifo"), 0o640))
	must(unix.Mknod(filepath.Join(dir, "sock"), unix.S_IFSOCK|0o600, 0))
	if err := unix.Mknod(filepath.Join(dir, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err == nil {
		f.devices = true
		must(unix.Mknod(filepath.Join(dir, "blk"), unix.S_IFBLK|0o600, int(unix.Mkdev(7, 42))))
	}

	bkWrite(t, filepath.Join(dir, "日本語", "ファイル.txt"), []byte("unicode"))
	bkWrite(t, filepath.Join(dir, "émoji-🙂.txt"), []byte("emoji"))
	bkWrite(t, filepath.Join(dir, "bad-\xff\xfe-utf8"), []byte("not UTF-8"))

	if err := unix.Setxattr(filepath.Join(dir, "sub"), "user.holdfast", []byte("dir value"), 0); err == nil {
		f.xattrs = true
		must(unix.Setxattr(filepath.Join(dir, "small.txt"), "user.b", []byte("2"), 0))
		must(unix.Setxattr(filepath.Join(dir, "small.txt"), "user.a", []byte{0, 1, 2}, 0))
	}
	bkWrite(t, filepath.Join(dir, "setuid"), []byte("#!/bin/sh\n"))
	must(unix.Chmod(filepath.Join(dir, "setuid"), 0o4755))
	must(unix.Chmod(filepath.Join(dir, "small.txt"), 0o640))
	must(unix.Chmod(filepath.Join(dir, "sub"), 0o1750))
	bkWrite(t, filepath.Join(dir, "owned"), []byte("owned"))
	if os.Geteuid() == 0 {
		must(os.Lchown(filepath.Join(dir, "owned"), 1234, 5678))
		f.chown = true
	}

	// Times with nanoseconds, set last (children change a dir's mtime).
	at := time.Date(2024, 2, 3, 4, 5, 6, 789, time.UTC)
	mt := time.Date(2025, 3, 4, 5, 6, 7, 123456789, time.UTC)
	ts := []unix.Timespec{unix.NsecToTimespec(at.UnixNano()), unix.NsecToTimespec(mt.UnixNano())}
	for _, name := range []string{"small.txt", "big.bin", "link-rel", "fifo", "sub/deep"} {
		must(unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(dir, name), ts, unix.AT_SYMLINK_NOFOLLOW))
	}
	return f
}

// bkCheckTree compares every entry of a snapshot with the file system.
func bkCheckTree(t *testing.T, r *Repository, root []tree.Extent, dir string) map[string][]tree.Entry {
	t.Helper()
	snap := bkSnapshotTree(t, r, root)
	for rel, entries := range snap {
		fsNames, err := bkListNoAtime(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name)
		}
		if !slices.Equal(names, fsNames) {
			t.Errorf("dir %q: snapshot has %q, file system %q", rel, names, fsNames)
		}
		for _, e := range entries {
			bkCheckEntry(t, r, filepath.Join(dir, rel, e.Name), &e)
		}
	}
	return snap
}

func bkListNoAtime(dir string) ([]string, error) {
	f, err := bkOpenDir(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	slices.Sort(names)
	return names, err
}

func bkCheckEntry(t *testing.T, r *Repository, p string, e *tree.Entry) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	typ, _ := bkEntryType(uint32(st.Mode)) // uint16 on darwin
	uname, gname := "", ""
	if u, err := user.LookupId(strconv.Itoa(int(st.Uid))); err == nil {
		uname = u.Username
	}
	if g, err := user.LookupGroupId(strconv.Itoa(int(st.Gid))); err == nil {
		gname = g.Name
	}
	want := tree.Entry{
		Name: e.Name, Type: typ, Mode: uint32(st.Mode & 0o7777), UID: st.Uid, GID: st.Gid, User: uname, Group: gname,
		MTime: st.Mtim.Nano(), ATime: e.ATime, CTime: st.Ctim.Nano(), Inode: st.Ino, Device: uint64(st.Dev),
		Links: uint32(st.Nlink), HardlinkGroup: e.HardlinkGroup,
	}
	if typ != tree.Dir {
		want.ATime = st.Atim.Nano() // listing a directory may touch it; nothing else may
	}
	if typ == tree.File {
		want.Size = uint64(st.Size)
	}
	if typ.IsDevice() {
		want.RDevMajor, want.RDevMinor = unix.Major(uint64(st.Rdev)), unix.Minor(uint64(st.Rdev))
	}
	if typ == tree.Symlink {
		want.LinkTarget, _ = os.Readlink(p)
	}
	want.Xattrs, _ = bkXattrs(p)
	got := *e
	got.Content, got.Subtree = nil, nil
	if got.Xattrs == nil {
		got.Xattrs = []tree.Xattr{}
	}
	if want.Xattrs == nil {
		want.Xattrs = []tree.Xattr{}
	}
	if !bkEntryEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", p, got, want)
	}
	if (st.Nlink > 1) != (e.HardlinkGroup != 0) && typ == tree.File {
		t.Errorf("%s: %d links, hardlink group %d", p, st.Nlink, e.HardlinkGroup)
	}
	if typ == tree.File {
		data, err := bkReadNoAtime(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := bkReadContent(t, r, e.Content); !bytes.Equal(got, data) {
			t.Errorf("%s: content differs (%d bytes restored, %d on disk)", p, len(got), len(data))
		}
	}
}

// bkReadNoAtime reads a file as the backup does, leaving its atime alone,
// so checking a snapshot does not change what the next backup records.
func bkReadNoAtime(p string) ([]byte, error) {
	f, err := bkOpen(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

func bkEntryEqual(a, b tree.Entry) bool {
	ax, bx := a.Xattrs, b.Xattrs
	a.Xattrs, b.Xattrs = nil, nil
	if !slices.EqualFunc(ax, bx, func(x, y tree.Xattr) bool { return x.Name == y.Name && bytes.Equal(x.Value, y.Value) }) {
		return false
	}
	return a.Name == b.Name && a.Type == b.Type && a.Mode == b.Mode && a.UID == b.UID && a.GID == b.GID &&
		a.User == b.User && a.Group == b.Group && a.MTime == b.MTime && a.ATime == b.ATime && a.CTime == b.CTime &&
		a.Size == b.Size && a.Inode == b.Inode && a.Device == b.Device && a.Links == b.Links &&
		a.HardlinkGroup == b.HardlinkGroup && a.RDevMajor == b.RDevMajor && a.RDevMinor == b.RDevMinor &&
		a.LinkTarget == b.LinkTarget
}

func bkEntry(t *testing.T, entries []tree.Entry, name string) *tree.Entry {
	t.Helper()
	for i := range entries {
		if entries[i].Name == name {
			return &entries[i]
		}
	}
	t.Fatalf("no entry %q", name)
	return nil
}

func bkHeader(t *testing.T, r *Repository, id format.ID) *Snapshot {
	t.Helper()
	s, err := r.Resolve(context.Background(), id.String())
	if err != nil {
		t.Fatal(err)
	}
	return &s
}

// TestBackupEveryType backs up one of every entry type, checks every field
// of every tree entry against lstat and every file's content, then backs
// up again without changes (nothing read, nothing uploaded, the same root
// tree), and once more without the local cache (the parent's trees serve).
func TestBackupEveryType(t *testing.T) {
	ctx := context.Background()
	srv := newBkServer(t)
	r := srv.initRepo(t, "every", bkTestParams)
	dir := t.TempDir()
	feat := bkMakeEveryType(t, dir)
	cacheDir := t.TempDir()
	opts := BackupOptions{Paths: []string{dir}, Tags: []string{"b", "a", "b"}, Host: "h1", CacheDir: cacheDir}

	sum, err := r.Backup(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Errors) != 0 {
		t.Fatalf("errors: %v", sum.Errors)
	}
	snap := bkHeader(t, r, sum.SnapshotID)
	h := snap.Header
	if h.Host != "h1" || h.Source.Kind != "path" || h.Source.Name != dir || !slices.Equal(h.Tags, []string{"a", "b"}) ||
		!slices.Equal(h.Paths, []string{dir}) || !h.Parent.IsZero() || h.ClientVersion != format.Version {
		t.Fatalf("header: %+v", h)
	}
	trees := bkCheckTree(t, r, h.Root, dir)

	root := trees[""]
	a, b, c := bkEntry(t, root, "hl-a"), bkEntry(t, trees["sub"], "hl-b"), bkEntry(t, root, "hl-c")
	if a.HardlinkGroup == 0 || a.HardlinkGroup != b.HardlinkGroup || a.HardlinkGroup != c.HardlinkGroup ||
		!slices.Equal(a.Content, b.Content) || !slices.Equal(a.Content, c.Content) {
		t.Errorf("hard links: groups %d %d %d", a.HardlinkGroup, b.HardlinkGroup, c.HardlinkGroup)
	}
	sp := bkEntry(t, root, "sparse")
	var data uint64
	for _, x := range sp.Content {
		if !x.Hole {
			data += x.Length
		}
	}
	if len(sp.Content) < 4 || !sp.Content[0].Hole || sp.Content[0].Length != 1<<20 || data > 64<<10 || !sp.Content[len(sp.Content)-1].Hole {
		t.Errorf("sparse extents: %+v (%d data bytes)", sp.Content, data)
	}
	if feat.xattrs {
		if xs := bkEntry(t, root, "sub").Xattrs; len(xs) != 1 || xs[0].Name != "user.holdfast" {
			t.Errorf("dir xattrs: %+v", xs)
		}
		if xs := bkEntry(t, root, "small.txt").Xattrs; len(xs) != 2 || xs[0].Name != "user.a" || xs[1].Name != "user.b" {
			t.Errorf("file xattrs: %+v", xs)
		}
	} else {
		t.Log("file system has no user xattrs: not checked")
	}
	if feat.devices {
		if e := bkEntry(t, root, "blk"); e.Type != tree.BlockDev || e.RDevMajor != 7 || e.RDevMinor != 42 {
			t.Errorf("block device: %+v", e)
		}
	}
	if feat.chown {
		if e := bkEntry(t, root, "owned"); e.UID != 1234 || e.GID != 5678 {
			t.Errorf("owner: %d:%d", e.UID, e.GID)
		}
	}
	for name, typ := range map[string]tree.Type{"fifo": tree.FIFO, "sock": tree.Socket, "link-dangling": tree.Symlink, "empty-dir": tree.Dir} {
		if e := bkEntry(t, root, name); e.Type != typ {
			t.Errorf("%s: type %s", name, e.Type)
		}
	}
	if e := bkEntry(t, root, "setuid"); e.Mode != 0o4755 {
		t.Errorf("setuid mode %#o", e.Mode)
	}
	var nonDirs, dirs uint64 = 0, 1 // the root is a directory
	for _, entries := range trees {
		for _, e := range entries {
			if e.Type == tree.Dir {
				dirs++
			} else {
				nonDirs++
			}
		}
	}
	if sum.FilesNew != nonDirs || sum.FilesChanged+sum.FilesUnmodified != 0 || h.Files != nonDirs || h.Dirs != dirs || sum.Dirs != dirs {
		t.Errorf("counts: summary %+v, header files %d dirs %d; tree has %d files, %d dirs", sum, h.Files, h.Dirs, nonDirs, dirs)
	}
	if sum.BytesRead == 0 || sum.BytesAdded == 0 || sum.BytesUploaded == 0 || sum.Previous != "none" {
		t.Errorf("first backup: %+v", sum)
	}

	// No change: nothing read, nothing uploaded, the same root tree.
	sum2, err := r.Backup(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if sum2.BytesRead != 0 || sum2.BytesUploaded != 0 || sum2.BytesAdded != 0 || sum2.FilesUnmodified != nonDirs ||
		sum2.FilesNew+sum2.FilesChanged != 0 || sum2.Previous != "cache" || sum2.Parent != sum.SnapshotID {
		t.Fatalf("unchanged backup: %+v", sum2)
	}
	if h2 := bkHeader(t, r, sum2.SnapshotID).Header; !slices.Equal(h2.Root, h.Root) || h2.RefsHash != h.RefsHash {
		t.Fatalf("unchanged backup has another root tree or reference list")
	}

	// Without the cache: the parent's trees, still nothing read.
	if err := os.RemoveAll(cacheDir); err != nil {
		t.Fatal(err)
	}
	sum3, err := r.Backup(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if sum3.BytesRead != 0 || sum3.BytesUploaded != 0 || sum3.FilesUnmodified != nonDirs || sum3.Previous != "parent" {
		t.Fatalf("backup without cache: %+v", sum3)
	}
	// ... and it wrote the cache again.
	sum4, err := r.Backup(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if sum4.Previous != "cache" || sum4.BytesRead != 0 {
		t.Fatalf("backup after the cache was rebuilt: %+v", sum4)
	}
}

// TestBackupSmallChange changes 1% of a data set in place: only the
// changed file is read and at most 3% of the bytes are uploaded.
func TestBackupSmallChange(t *testing.T) {
	ctx := context.Background()
	srv := newBkServer(t)
	r := srv.initRepo(t, "small-change", bkTestParams)
	dir := t.TempDir()
	const files, size = 40, 512 << 10
	for i := range files {
		bkWrite(t, filepath.Join(dir, "d"+strconv.Itoa(i%4), "f"+strconv.Itoa(i)), bkRandom(uint64(100+i), size))
	}
	opts := BackupOptions{Paths: []string{dir}, Host: "h", CacheDir: t.TempDir()}
	first, err := r.Backup(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if first.BytesRead != files*size {
		t.Fatalf("first backup read %d bytes, want %d", first.BytesRead, files*size)
	}
	total := uint64(files * size)
	f, err := os.OpenFile(filepath.Join(dir, "d1", "f5"), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bkRandom(999, int(total/100)), 100<<10); err != nil {
		t.Fatal(err)
	}
	f.Close()
	second, err := r.Backup(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("1%% change: read %d, uploaded %d of %d bytes (%.2f%%)", second.BytesRead, second.BytesUploaded, total,
		100*float64(second.BytesUploaded)/float64(total))
	if second.BytesRead != size || second.FilesChanged != 1 || second.FilesUnmodified != files-1 {
		t.Errorf("second backup: %+v", second)
	}
	if second.BytesUploaded > total*3/100 {
		t.Errorf("uploaded %d bytes for a 1%% change of %d", second.BytesUploaded, total)
	}
	h := bkHeader(t, r, second.SnapshotID).Header
	bkCheckTree(t, r, h.Root, dir)
}

// TestBackupMultiplePaths: several paths make a root listing base names;
// a repeated base name is refused before anything is uploaded.
func TestBackupMultiplePaths(t *testing.T) {
	ctx := context.Background()
	srv := newBkServer(t)
	r := srv.initRepo(t, "multi", bkTestParams)
	base := t.TempDir()
	bkWrite(t, filepath.Join(base, "one", "a.txt"), []byte("a"))
	bkWrite(t, filepath.Join(base, "two", "sub", "b.txt"), []byte("b"))
	bkWrite(t, filepath.Join(base, "loose.txt"), []byte("loose"))
	bkWrite(t, filepath.Join(base, "other", "one", "x"), []byte("x"))
	paths := []string{filepath.Join(base, "two"), filepath.Join(base, "one"), filepath.Join(base, "loose.txt")}
	sum, err := r.Backup(ctx, BackupOptions{Paths: paths, Host: "h", NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	h := bkHeader(t, r, sum.SnapshotID).Header
	if !slices.Equal(h.Paths, paths) || h.Source.Name != strings.Join(paths, " ") {
		t.Fatalf("paths %q, source %q", h.Paths, h.Source.Name)
	}
	trees := bkSnapshotTree(t, r, h.Root)
	var names []string
	for _, e := range trees[""] {
		names = append(names, e.Name)
	}
	if !slices.Equal(names, []string{"loose.txt", "one", "two"}) {
		t.Fatalf("root lists %q", names)
	}
	if e := bkEntry(t, trees["two/sub"], "b.txt"); string(bkReadContent(t, r, e.Content)) != "b" {
		t.Fatal("two/sub/b.txt content")
	}
	if sum.FilesNew != 3 || sum.Dirs != 3 {
		t.Errorf("summary %+v", sum)
	}

	_, err = r.Backup(ctx, BackupOptions{Paths: []string{filepath.Join(base, "one"), filepath.Join(base, "other", "one")}, Host: "h"})
	if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), "same base name") {
		t.Fatalf("duplicate base names: %v", err)
	}
}

// TestBackupExclude checks globs against the relative path and the name.
func TestBackupExclude(t *testing.T) {
	srv := newBkServer(t)
	r := srv.initRepo(t, "exclude", bkTestParams)
	dir := t.TempDir()
	for _, p := range []string{"keep.txt", "x.log", "sub/y.log", "sub/keep", "cache/big", "sub/cache/kept"} {
		bkWrite(t, filepath.Join(dir, p), []byte(p))
	}
	sum, err := r.Backup(context.Background(), BackupOptions{Paths: []string{dir}, Host: "h", NoCache: true, Excludes: []string{"*.log", "cache"}})
	if err != nil {
		t.Fatal(err)
	}
	trees := bkSnapshotTree(t, r, bkHeader(t, r, sum.SnapshotID).Header.Root)
	var got []string
	for rel, entries := range trees {
		for _, e := range entries {
			got = append(got, filepath.Join(rel, e.Name))
		}
	}
	slices.Sort(got)
	if want := []string{"keep.txt", "sub", "sub/keep"}; !slices.Equal(got, want) {
		t.Fatalf("entries %q, want %q", got, want)
	}
	if _, err := r.Backup(context.Background(), BackupOptions{Paths: []string{dir}, Excludes: []string{"[bad"}}); !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("bad glob: %v", err)
	}
}

// TestBackupProgress: the last report counts every file and byte, and the
// concurrent scan found the same totals (excludes applied).
func TestBackupProgress(t *testing.T) {
	srv := newBkServer(t)
	r := srv.initRepo(t, "progress", bkTestParams)
	dir := t.TempDir()
	for i := range 30 {
		bkWrite(t, filepath.Join(dir, "d"+strconv.Itoa(i%3), "f"+strconv.Itoa(i)), bkRandom(uint64(i), 10<<10))
	}
	bkWrite(t, filepath.Join(dir, "skip.tmp"), []byte("excluded"))
	var last BackupProgress
	calls := 0
	sum, err := r.Backup(context.Background(), BackupOptions{
		Paths: []string{dir}, Host: "h", NoCache: true, Excludes: []string{"*.tmp"},
		ProgressEvery: time.Millisecond,
		Progress:      func(p BackupProgress) { last = p; calls++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls == 0 || last.Files != 30 || last.TotalFiles != 30 || last.DoneBytes != 300<<10 || last.TotalBytes != 300<<10 ||
		!last.ScanDone || last.Dirs != 3 || last.BytesRead != sum.BytesRead || last.BytesUploaded != sum.BytesUploaded {
		t.Fatalf("last progress after %d calls: %+v (summary %+v)", calls, last, sum)
	}
}

// TestBackupSingleFile: one file as PATH makes a root listing it.
func TestBackupSingleFile(t *testing.T) {
	srv := newBkServer(t)
	r := srv.initRepo(t, "one-file", bkTestParams)
	p := filepath.Join(t.TempDir(), "db.dump")
	bkWrite(t, p, bkRandom(5, 200<<10))
	sum, err := r.Backup(context.Background(), BackupOptions{Paths: []string{p}, Host: "h", CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	root := bkSnapshotTree(t, r, bkHeader(t, r, sum.SnapshotID).Header.Root)[""]
	if len(root) != 1 || root[0].Name != "db.dump" || root[0].Size != 200<<10 || sum.Dirs != 0 || sum.FilesNew != 1 {
		t.Fatalf("root %+v, summary %+v", root, sum)
	}
	data, _ := os.ReadFile(p)
	if !bytes.Equal(bkReadContent(t, r, root[0].Content), data) {
		t.Fatal("content differs")
	}
}

// TestBackupFileTooLargeForEntry lowers the tree entry limit so that a
// 1 MiB file (about 64 extents at the test chunker's 16 KiB) no longer fits
// in one entry: that file, and its hard link, are listed as not backed up,
// the rest of the directory is committed, and the snapshot restores.
func TestBackupFileTooLargeForEntry(t *testing.T) {
	defer func(old int) { maxEntrySize = old }(maxEntrySize)
	maxEntrySize = 1024
	srv := newBkServer(t)
	r := srv.initRepo(t, "too-large", bkTestParams)
	dir := t.TempDir()
	bkWrite(t, filepath.Join(dir, "small.txt"), []byte("fits\n"))
	bkWrite(t, filepath.Join(dir, "huge.img"), bkRandom(9, 1<<20))
	if err := os.Link(filepath.Join(dir, "huge.img"), filepath.Join(dir, "huge-link")); err != nil {
		t.Fatal(err)
	}
	sum, err := r.Backup(context.Background(), BackupOptions{Paths: []string{dir}, Host: "h", CacheDir: t.TempDir()})
	if err != nil {
		t.Fatalf("one oversized file failed the whole backup: %v", err)
	}
	var listed []string
	for _, fe := range sum.Errors {
		listed = append(listed, filepath.Base(fe.Path))
		if !strings.Contains(fe.Error(), "too large to back up") {
			t.Errorf("error %q does not say why", fe.Error())
		}
	}
	slices.Sort(listed)
	if !slices.Equal(listed, []string{"huge-link", "huge.img"}) {
		t.Fatalf("errors %v, want huge.img and its link", sum.Errors)
	}
	root := bkSnapshotTree(t, r, bkHeader(t, r, sum.SnapshotID).Header.Root)[""]
	if len(root) != 1 || root[0].Name != "small.txt" {
		t.Fatalf("root %+v, want small.txt alone", root)
	}
	if got := bkReadContent(t, r, root[0].Content); string(got) != "fits\n" {
		t.Fatalf("small.txt reads %q", got)
	}
}
