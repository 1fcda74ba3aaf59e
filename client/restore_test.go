package client

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/seal"
	"github.com/holdfast-backup/holdfast/format/tree"
)

// rsSample is a snapshot with one of everything restore must reproduce.
func rsSample() []*rsNode {
	big := rsRandom(1, 300_000) // five chunks of 64 KiB
	sparse := rsFile("sparse.img", 0o640,
		rsHole(1<<20), rsData(rsRandom(2, 70_000)), rsHole(3<<20), rsData([]byte("tail")), rsHole(2<<20))
	sparse.xattrs = []tree.Xattr{{Name: "user.kind", Value: []byte("disk")}, {Name: "user.z", Value: []byte{0, 1, 2}}}
	link1 := rsFile("hard1", 0o600, rsData([]byte("linked content")))
	link1.group = 7
	link2 := rsFile("hard2", 0o600, rsData([]byte("linked content")))
	link2.group = 7
	link3 := rsFile("hard3", 0o600, rsData([]byte("linked content")))
	link3.group = 7
	owned := rsFile("owned", 0o4755, rsData([]byte("#!/bin/true\n")))
	owned.uid, owned.gid = 1234, 5678
	old := rsFile("old", 0o444, rsData([]byte("read only")))
	old.mtime, old.atime = 86_400_000_000_001, 86_400_000_000_002
	fifo := &rsNode{name: "fifo", typ: tree.FIFO, mode: 0o620}
	dev := &rsNode{name: "null", typ: tree.CharDev, mode: 0o666, major: 1, minor: 3}
	sock := &rsNode{name: "sock", typ: tree.Socket, mode: 0o755}
	sub := rsDirOf("sub", 0o750,
		rsFile("big.bin", 0o644, rsData(big)),
		rsFile("empty", 0o644),
		rsDirOf("deeper", 0o700, rsFile("leaf.txt", 0o600, rsData([]byte("leaf"))), link3),
		rsDirOf("empty-dir", 0o755),
	)
	sub.mtime = 1_600_000_000_000_000_007
	ro := rsDirOf("readonly-dir", 0o555, rsFile("inside", 0o644, rsData([]byte("x"))))
	ro.uid, ro.gid = 42, 43
	return []*rsNode{
		rsFile("a.txt", 0o644, rsData([]byte("hello, world\n"))),
		sparse, link1, link2, owned, old, fifo, dev, sock, sub, ro,
		rsSymlink("rel-link", "sub/big.bin"),
		rsSymlink("abs-link", "/nonexistent/absolute/target"),
		rsSymlink("dot-link", "../../outside"),
	}
}

// rsCheck compares dir with the description, recursively; p is the path
// in the snapshot. It returns the inode of each hardlink group.
func rsCheck(t *testing.T, dir string, nodes []*rsNode, groups map[uint64]uint64) {
	t.Helper()
	for _, n := range nodes {
		p := filepath.Join(dir, n.name)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			if n.typ == tree.Socket || (n.typ == tree.CharDev && errors.Is(err, os.ErrNotExist)) {
				continue
			}
			t.Errorf("%s: %v", p, err)
			continue
		}
		mtime, atime := n.mtime, n.atime
		if mtime == 0 {
			mtime = rsDefaultTime
		}
		if atime == 0 {
			atime = mtime
		}
		if got := st.Mtim.Nano(); got != mtime {
			t.Errorf("%s: mtime %d, want %d", p, got, mtime)
		}
		if n.typ != tree.Dir && (n.group == 0 || groups[n.group] == 0) {
			// Directories are listed and hardlinked files read by the
			// check itself, which moves their atime.
			if got := st.Atim.Nano(); got != atime {
				t.Errorf("%s: atime %d, want %d", p, got, atime)
			}
		}
		if n.typ != tree.Symlink && uint32(st.Mode&0o7777) != n.mode {
			t.Errorf("%s: mode %o, want %o", p, st.Mode&0o7777, n.mode)
		}
		if os.Geteuid() == 0 && (st.Uid != n.uid || st.Gid != n.gid) {
			t.Errorf("%s: owner %d:%d, want %d:%d", p, st.Uid, st.Gid, n.uid, n.gid)
		}
		for _, x := range n.xattrs {
			buf := make([]byte, 256)
			k, err := unix.Lgetxattr(p, x.Name, buf)
			if err != nil || !bytes.Equal(buf[:k], x.Value) {
				t.Errorf("%s: xattr %s = %q, %v; want %q", p, x.Name, buf[:max(k, 0)], err, x.Value)
			}
		}
		switch n.typ {
		case tree.File:
			if st.Mode&unix.S_IFMT != unix.S_IFREG {
				t.Errorf("%s: not a regular file", p)
				continue
			}
			var want []byte
			var holes uint64
			for _, part := range n.parts {
				want = append(want, part.data...)
				want = append(want, make([]byte, part.hole)...)
				holes += part.hole
			}
			got, err := os.ReadFile(p)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("%s: content differs (%d bytes, want %d): %v", p, len(got), len(want), err)
			}
			if holes > 0 && uint64(st.Blocks*512) > uint64(len(want))-holes+64<<10 {
				t.Errorf("%s: %d blocks allocated for %d bytes of data: holes not sparse", p, st.Blocks, uint64(len(want))-holes)
			}
			if n.group != 0 {
				if ino, ok := groups[n.group]; ok && ino != st.Ino {
					t.Errorf("%s: inode %d, want %d (hardlink group %d)", p, st.Ino, ino, n.group)
				}
				groups[n.group] = st.Ino
			}
		case tree.Dir:
			if st.Mode&unix.S_IFMT != unix.S_IFDIR {
				t.Errorf("%s: not a directory", p)
				continue
			}
			rsCheck(t, p, n.kids, groups)
			names, _ := os.ReadDir(p)
			if len(names) > len(n.kids) {
				t.Errorf("%s: %d entries, want at most %d", p, len(names), len(n.kids))
			}
		case tree.Symlink:
			if got, err := os.Readlink(p); err != nil || got != n.target {
				t.Errorf("%s: link %q, %v; want %q", p, got, err, n.target)
			}
		case tree.FIFO:
			if st.Mode&unix.S_IFMT != unix.S_IFIFO {
				t.Errorf("%s: not a FIFO", p)
			}
		case tree.CharDev:
			if st.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(uint64(st.Rdev)) != n.major || unix.Minor(uint64(st.Rdev)) != n.minor {
				t.Errorf("%s: not char device %d,%d", p, n.major, n.minor)
			}
		}
	}
}

func TestRestoreBitExact(t *testing.T) {
	s := newRSServer(t)
	r := s.initRepo(t)
	nodes := rsSample()
	snap := rsSnapshot(t, r, nodes...)
	target := filepath.Join(t.TempDir(), "target")
	res, err := r.Restore(context.Background(), snap, RestoreOptions{Target: target})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("result: %+v", *res)
	rsCheck(t, target, nodes, map[uint64]uint64{})
	if res.Files != 9 || res.Hardlinks != 2 || res.Symlinks != 3 || res.Dirs != 4 || res.Specials < 1 {
		t.Errorf("counts: %+v", *res)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(target, "hard1"), &st); err != nil || st.Nlink != 3 {
		t.Errorf("hard1: %d links, want 3 (%v)", st.Nlink, err)
	}

	// Again into the same target: nothing to fetch but the listings.
	res, err = r.Restore(context.Background(), snap, RestoreOptions{Target: target})
	if err != nil {
		t.Fatal(err)
	}
	if res.FilesSkipped != 9 || res.Files != 0 || res.Hardlinks != 2 || res.Bytes != 0 {
		t.Errorf("second restore: %+v", *res)
	}
	rsCheck(t, target, nodes, map[uint64]uint64{})
}

// TestRestoreOwnerSetgid: restore leaves out a chown only when the file
// already has the owner, so as root into a setgid directory of another
// group (whose files take that group) root-owned entries still end up
// root's, and entries of other owners get theirs.
func TestRestoreOwnerSetgid(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SKIP: needs root to own files as others")
	}
	s := newRSServer(t)
	r := s.initRepo(t)
	other := rsFile("other", 0o644, rsData([]byte("other")))
	other.uid, other.gid = 1234, 5678
	nodes := []*rsNode{
		rsFile("mine", 0o644, rsData([]byte("mine"))),
		other,
		rsDirOf("sub", 0o755, rsFile("inner", 0o600, rsData([]byte("inner")))),
	}
	snap := rsSnapshot(t, r, nodes...)
	target := filepath.Join(t.TempDir(), "target")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(target, 0, 4321); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(target, 0o755|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Restore(context.Background(), snap, RestoreOptions{Target: target}); err != nil {
		t.Fatal(err)
	}
	rsCheck(t, target, nodes, map[uint64]uint64{})
}

func TestRestoreInclude(t *testing.T) {
	s := newRSServer(t)
	r := s.initRepo(t)
	nodes := rsSample()
	snap := rsSnapshot(t, r, nodes...)
	ctx := context.Background()

	// A subtree keeps its path and its parents.
	target := t.TempDir()
	if _, err := r.Restore(ctx, snap, RestoreOptions{Target: target, Include: []string{"/sub/deeper"}}); err != nil {
		t.Fatal(err)
	}
	got := rsListTree(t, target)
	want := []string{"sub/", "sub/deeper/", "sub/deeper/hard3", "sub/deeper/leaf.txt"}
	if !slices.Equal(got, want) {
		t.Errorf("include subtree: got %q, want %q", got, want)
	}
	rsCheck(t, filepath.Join(target, "sub"), nodes[9].kids[2:3], map[uint64]uint64{})

	// A single file, and a second include.
	target = t.TempDir()
	if _, err := r.Restore(ctx, snap, RestoreOptions{Target: target, Include: []string{"sub/big.bin", "a.txt"}}); err != nil {
		t.Fatal(err)
	}
	if got, want := rsListTree(t, target), []string{"a.txt", "sub/", "sub/big.bin"}; !slices.Equal(got, want) {
		t.Errorf("include file: got %q, want %q", got, want)
	}
	rsCheck(t, filepath.Join(target, "sub"), nodes[9].kids[:1], nil)

	// Nested includes: the inner one must exist too.
	if _, err := r.Restore(ctx, snap, RestoreOptions{Target: t.TempDir(), Include: []string{"sub", "sub/big.bin"}}); err != nil {
		t.Errorf("nested includes: %v", err)
	}
	if _, err := r.Restore(ctx, snap, RestoreOptions{Target: t.TempDir(), Include: []string{"sub", "sub/nope"}}); err == nil {
		t.Error("nested include of a missing path: no error")
	}

	// Unknown paths and paths through a symlink are refused.
	for _, inc := range []string{"nope", "rel-link/x", "a.txt/x", "../etc"} {
		_, err := r.Restore(ctx, snap, RestoreOptions{Target: t.TempDir(), Include: []string{inc}})
		if err == nil {
			t.Errorf("include %q: no error", inc)
		}
	}
}

// rsListTree lists dir's contents as sorted relative paths, "/" after
// directories.
func rsListTree(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			rel += "/"
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func TestRestoreResume(t *testing.T) {
	s := newRSServer(t)
	r := s.initRepo(t)
	var nodes []*rsNode
	for i := range 20 {
		nodes = append(nodes, rsFile(string(rune('a'+i))+".bin", 0o644, rsData(rsRandom(uint64(100+i), 100_000+i*1000))))
	}
	nodes = append(nodes, rsFile("z-sparse", 0o644, rsHole(1<<20), rsData(rsRandom(9, 200_000))))
	snap := rsSnapshot(t, r, nodes...)
	counter := &rsCountingChunks{ChunkServiceClient: r.Chunks}
	r.Chunks = counter
	ctx := context.Background()
	target := t.TempDir()
	if _, err := r.Restore(ctx, snap, RestoreOptions{Target: target}); err != nil {
		t.Fatal(err)
	}
	first := rsDataOnly(snap, counter.take())

	// Delete every other file, cut one in the middle of its third chunk,
	// and damage a byte in another (same size and mtime: caught by the
	// content check).
	want := map[format.ID]int{}
	for i, n := range nodes[:20] {
		if i%2 == 0 {
			os.Remove(filepath.Join(target, n.name))
			for _, id := range rsIDs(r, n) {
				want[id]++
			}
		}
	}
	cut := nodes[1]
	if err := os.Truncate(filepath.Join(target, cut.name), 150_000); err != nil {
		t.Fatal(err)
	}
	for _, id := range rsIDs(r, cut)[2:] {
		want[id]++
	}
	flipped := nodes[3]
	f, err := os.OpenFile(filepath.Join(target, flipped.name), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{^flipped.parts[0].data[70_000]}, 70_000)
	f.Close()
	os.Chtimes(filepath.Join(target, flipped.name), rsTime(rsDefaultTime), rsTime(rsDefaultTime))
	for _, id := range rsIDs(r, flipped)[1:] {
		want[id]++
	}

	res, err := r.Restore(ctx, snap, RestoreOptions{Target: target})
	if err != nil {
		t.Fatal(err)
	}
	second := rsDataOnly(snap, counter.take())
	got := map[format.ID]int{}
	for _, id := range second {
		got[id]++
	}
	if len(got) != len(want) {
		t.Errorf("second run fetched %d distinct chunks, want %d (first run: %d)", len(got), len(want), len(first))
	}
	for id := range got {
		if want[id] == 0 {
			t.Errorf("second run fetched chunk %s of an intact file region", id.Short())
		}
	}
	if res.FilesSkipped != 9 || res.FilesResumed != 2 || res.Files != 12 {
		t.Errorf("skipped %d resumed %d written %d; want 9, 2, 12", res.FilesSkipped, res.FilesResumed, res.Files)
	}
	rsCheck(t, target, nodes, nil)

	// A third run fetches nothing.
	res, err = r.Restore(ctx, snap, RestoreOptions{Target: target})
	if err != nil {
		t.Fatal(err)
	}
	if ids := rsDataOnly(snap, counter.take()); len(ids) != 0 || res.FilesSkipped != 21 {
		t.Errorf("third run fetched %d chunks and skipped %d files", len(ids), res.FilesSkipped)
	}
}

// rsDataOnly drops the root listing's chunks (fetched by every run).
func rsDataOnly(snap Snapshot, ids []format.ID) []format.ID {
	return slices.DeleteFunc(ids, func(id format.ID) bool {
		return slices.ContainsFunc(snap.Header.Root, func(x tree.Extent) bool { return x.ID == id })
	})
}

// rsIDs returns the chunk IDs of a file node's data, in order, as the
// builder cuts them.
func rsIDs(r *Repository, n *rsNode) []format.ID {
	var ids []format.ID
	for _, p := range n.parts {
		for off := 0; off < len(p.data); off += 64 << 10 {
			ids = append(ids, r.Sealer.ID(p.data[off:min(off+64<<10, len(p.data))]))
		}
	}
	return ids
}

// TestRestoreTampered restores snapshots made by someone holding the key
// who wants restore to write outside the target. Each must be refused or
// neutralised, with nothing written outside.
func TestRestoreTampered(t *testing.T) {
	s := newRSServer(t)
	r := s.initRepo(t)
	ctx := context.Background()

	type tcase struct {
		name    string
		build   func(b *rsBuilder, outside string) Snapshot
		prepare func(target, outside string) // what the target holds before
		wantErr string                       // "" = must succeed
	}
	cases := []tcase{{
		name: "symlink then directory of the same name",
		build: func(b *rsBuilder, outside string) Snapshot {
			link := b.rsRecord(rsSymlink("x", outside))
			dir := b.rsRecord(rsDirOf("x", 0o755, rsFile("pwned", 0o644, rsData([]byte("gotcha")))))
			return b.commit(nil, rsRawTree(link, dir))
		},
		wantErr: "tampered",
	}, {
		name: "duplicate file entries",
		build: func(b *rsBuilder, outside string) Snapshot {
			one := b.rsRecord(rsFile("f", 0o644, rsData([]byte("one"))))
			return b.commit(nil, rsRawTree(one, one))
		},
		wantErr: "tampered",
	}, {
		name: "name with a slash",
		build: func(b *rsBuilder, outside string) Snapshot {
			rec := b.rsRecord(rsFile("zz"+strings.Repeat("q", 50), 0o644, rsData([]byte("x"))))
			evil := "../" + strings.Repeat("../", 10) + strings.TrimPrefix(outside, "/") + "/e"
			evil = evil[:52]
			return b.commit(nil, rsRawTree(bytes.Replace(rec, []byte("zz"+strings.Repeat("q", 50)), []byte(evil), 1)))
		},
		wantErr: "tampered",
	}, {
		name: "dot-dot name",
		build: func(b *rsBuilder, outside string) Snapshot {
			rec := b.rsRecord(rsDirOf("zz", 0o755, rsFile("pwned", 0o644, rsData([]byte("x")))))
			return b.commit(nil, rsRawTree(bytes.Replace(rec, []byte("zz"), []byte(".."), 1)))
		},
		wantErr: "tampered",
	}, {
		name: "directory where the target has a symlink out",
		build: func(b *rsBuilder, outside string) Snapshot {
			return b.commit([]*rsNode{rsDirOf("x", 0o755, rsFile("pwned", 0o644, rsData([]byte("gotcha"))))}, nil)
		},
		prepare: func(target, outside string) { os.Symlink(outside, filepath.Join(target, "x")) },
	}, {
		name: "file where the target has a symlink out",
		build: func(b *rsBuilder, outside string) Snapshot {
			return b.commit([]*rsNode{rsFile("victim", 0o644, rsData([]byte("gotcha")))}, nil)
		},
		prepare: func(target, outside string) {
			os.WriteFile(filepath.Join(outside, "victim"), []byte("precious"), 0o644)
			os.Symlink(filepath.Join(outside, "victim"), filepath.Join(target, "victim"))
		},
	}, {
		name: "file where the target has a hardlink out",
		build: func(b *rsBuilder, outside string) Snapshot {
			return b.commit([]*rsNode{rsFile("victim", 0o644, rsData([]byte("precious and more")))}, nil)
		},
		prepare: func(target, outside string) {
			os.WriteFile(filepath.Join(outside, "victim"), []byte("precious"), 0o644)
			os.Link(filepath.Join(outside, "victim"), filepath.Join(target, "victim"))
		},
	}, {
		name: "hardlink group joining a symlink out and a file",
		build: func(b *rsBuilder, outside string) Snapshot {
			// "a" → outside, and "a" again as a directory in a later
			// listing: only possible as duplicates, so here a hardlink
			// group joins the symlink and a file instead.
			l := rsSymlink("a", outside)
			l.group = 9
			f := rsFile("b", 0o644, rsData([]byte("gotcha")))
			f.group = 9
			return b.commit([]*rsNode{l, f}, nil)
		},
		wantErr: "hardlink group",
	}, {
		name: "a chunk stored under another ID",
		build: func(b *rsBuilder, outside string) Snapshot {
			bad := &rsNode{name: "bad", typ: tree.File, mode: 0o644, parts: []rsPart{{data: []byte("the real bytes"), forged: true}}}
			return b.commit([]*rsNode{bad}, nil)
		},
		wantErr: "authentication failed",
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			outside := filepath.Join(base, "outside")
			target := filepath.Join(base, "target")
			os.Mkdir(outside, 0o755)
			os.Mkdir(target, 0o755)
			if tc.prepare != nil {
				tc.prepare(target, outside)
			}
			before := rsSnapshotDir(t, outside)
			snap := tc.build(newRSBuilder(t, r), outside)
			_, err := r.Restore(ctx, snap, RestoreOptions{Target: target})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("restore: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("restore: %v, want an error containing %q", err, tc.wantErr)
			}
			if err != nil {
				t.Logf("refused: %v", err)
			}
			if after := rsSnapshotDir(t, outside); !slices.Equal(before, after) {
				t.Errorf("outside the target changed:\nbefore %q\nafter  %q", before, after)
			}
			if _, err := os.Lstat(filepath.Join(base, "e")); err == nil {
				t.Errorf("a file appeared next to the target")
			}
		})
	}
}

// rsSnapshotDir lists dir with contents, to detect any change.
func rsSnapshotDir(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		line := p
		if d.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			fi, _ := os.Stat(p)
			line += "=" + string(b) + "|" + fi.Mode().String()
		}
		out = append(out, line)
		return nil
	})
	return out
}

// TestRestoreFileThatIsATreeChunk: chunk IDs cover the plaintext only, so
// a file whose bytes equal a chunk the repository holds as a tree shares
// that chunk's envelope (the server dedups by ID). Restore and verify must
// take those bytes as the file's content: the ID proves them. Before, both
// refused the file with "is a tree chunk, want data".
func TestRestoreFileThatIsATreeChunk(t *testing.T) {
	s := newRSServer(t)
	r := s.initRepo(t)
	content := []byte("bytes that were first stored as a tree chunk\n")
	b := newRSBuilder(t, r)
	b.put(seal.TypeTree, content) // queued first: the server keeps this envelope
	snap := b.commit([]*rsNode{rsFile("same.txt", 0o644, rsData(content))}, nil)

	target := t.TempDir()
	if _, err := r.Restore(context.Background(), snap, RestoreOptions{Target: target}); err != nil {
		t.Fatalf("restore: %v", err)
	}
	got, err := os.ReadFile(filepath.Join(target, "same.txt"))
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("restored %q, %v; want %q", got, err, content)
	}
	v, err := r.Verify(context.Background(), true)
	if err != nil || len(v.Problems) != 0 || v.ChunksRead == 0 {
		t.Fatalf("verify --read-data: %+v, %v", v, err)
	}
}
