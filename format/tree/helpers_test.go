package tree

import (
	"runtime"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
)

// xof returns n deterministic bytes derived from label (BLAKE3 XOF), so test
// data never depends on math/rand or the Go version.
func xof(label string, n int) []byte {
	h := blake3.New()
	h.WriteString(label)
	b := make([]byte, n)
	h.Digest().Read(b)
	return b
}

func testID(label string) format.ID {
	var id format.ID
	copy(id[:], xof(label, format.IDSize))
	return id
}

// sampleEntries is the golden tree: one entry of each type, a file with two
// data extents and a hole, xattrs, a hardlink pair, a negative time.
func sampleEntries() []Entry {
	const t0 = 1_700_000_000_123_456_789
	file := []Extent{
		{ID: testID("file extent 0"), Length: 1000},
		{Hole: true, Length: 4096},
		{ID: testID("file extent 1"), Length: 500},
	}
	return []Entry{
		{Name: "blockdev", Type: BlockDev, Mode: 0o660, UID: 0, GID: 6, User: "root", Group: "disk",
			MTime: t0, ATime: t0, CTime: t0, Inode: 101, Device: 5, Links: 1, RDevMajor: 8, RDevMinor: 0},
		{Name: "chardev", Type: CharDev, Mode: 0o666, User: "root", Group: "root",
			MTime: t0, ATime: t0, CTime: t0, Inode: 102, Device: 5, Links: 1, RDevMajor: 1, RDevMinor: 3},
		{Name: "dir", Type: Dir, Mode: 0o1777, UID: 1000, GID: 1000, User: "alice", Group: "alice",
			MTime: t0, ATime: t0, CTime: t0, Inode: 103, Device: 2049, Links: 2,
			Subtree: []Extent{{ID: testID("subtree 0"), Length: 65536}, {ID: testID("subtree 1"), Length: 77}}},
		{Name: "fifo", Type: FIFO, Mode: 0o600, UID: 1000, GID: 1000, User: "alice", Group: "alice",
			MTime: t0, ATime: -1, CTime: t0, Inode: 104, Device: 2049, Links: 1},
		{Name: "file", Type: File, Mode: 0o4755, UID: 1000, GID: 1000, User: "alice", Group: "alice",
			MTime: t0, ATime: t0 + 1, CTime: t0 + 2, Size: 5596, Inode: 105, Device: 2049, Links: 2, HardlinkGroup: 1,
			Xattrs: []Xattr{{Name: "security.selinux", Value: []byte("system_u:object_r:container_file_t:s0\x00")},
				{Name: "user.empty", Value: []byte{}}, {Name: "user.k", Value: xof("xattr value", 40)}},
			Content: file},
		{Name: "hardlink", Type: File, Mode: 0o4755, UID: 1000, GID: 1000, User: "alice", Group: "alice",
			MTime: t0, ATime: t0 + 1, CTime: t0 + 2, Size: 5596, Inode: 105, Device: 2049, Links: 2, HardlinkGroup: 1,
			Content: file},
		{Name: "h\u00e9llo w\u00f6rld.txt", Type: File, Mode: 0o644, UID: 1000, GID: 1000, User: "alice", Group: "alice",
			MTime: t0, ATime: t0, CTime: t0, Inode: 106, Device: 2049, Links: 1},
		{Name: "socket", Type: Socket, Mode: 0o755, UID: 1000, GID: 1000, User: "alice", Group: "alice",
			MTime: t0, ATime: t0, CTime: t0, Inode: 107, Device: 2049, Links: 1},
		{Name: "symlink", Type: Symlink, Mode: 0o777, UID: 1000, GID: 1000, User: "alice", Group: "alice",
			MTime: t0, ATime: t0, CTime: t0, Inode: 108, Device: 2049, Links: 1, LinkTarget: "../file"},
	}
}

// rawTree builds a well-formed stream (valid trailer) around arbitrary entry
// bodies, so tests can reach the decoder's entry checks.
func rawTree(bodies ...[]byte) []byte {
	b := append([]byte(Magic), Version)
	for _, body := range bodies {
		b = appendUvarint(b, uint64(len(body)))
		b = append(b, body...)
	}
	b = append(b, 0)
	b = appendUvarint(b, uint64(len(bodies)))
	sum := blake3.Sum256(b)
	return append(b, sum[:]...)
}

func appendUvarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// rawEntry encodes e without validating it.
func rawEntry(e Entry) []byte { return appendEntry(nil, &e) }

// allocBytes reports how many bytes fn allocates.
func allocBytes(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func mustCorrupt(t *testing.T, what string, err error) {
	t.Helper()
	if !format.IsCorrupt(err) {
		t.Errorf("%s: got %v, want a corrupt error", what, err)
	}
}
