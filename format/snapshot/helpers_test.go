package snapshot

import (
	"encoding/hex"
	"flag"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/tree"
)

var update = flag.Bool("update", false, "rewrite the golden files in format/testdata/snapshot")

const goldenDir = "../testdata/snapshot"

// xof returns n deterministic bytes derived from label (BLAKE3 XOF).
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

// testMACKey is the golden MAC key: bytes 0, 1, ..., 31.
func testMACKey() [32]byte {
	var k [32]byte
	for i := range k {
		k[i] = byte(i)
	}
	return k
}

// sampleRefs is the golden reference list: the two root chunks and three
// data chunks, sorted.
func sampleRefs() []format.ID {
	return SortRefs([]format.ID{testID("root 0"), testID("root 1"), testID("data 0"), testID("data 1"), testID("data 2")})
}

// sampleHeader is the golden header, signed with testMACKey.
func sampleHeader() *Header {
	h := &Header{
		Time: 1_700_000_000_123_456_789,
		Host: "node-1.example",
		Source: Source{Kind: KindK8sPVC, Name: "data-postgres-0", Labels: []Label{
			{Key: "namespace", Value: "db"}, {Key: "pod", Value: "postgres-0"}, {Key: "pvc", Value: "data-postgres-0"}}},
		Tags:          []string{"daily", "prod"},
		Paths:         []string{"/var/lib/postgresql/data"},
		Parent:        testID("parent"),
		Root:          []tree.Extent{{ID: testID("root 0"), Length: 1 << 20}, {ID: testID("root 1"), Length: 1234}},
		Size:          10 << 30,
		Files:         1234,
		Dirs:          56,
		BytesAdded:    3 << 20,
		ClientVersion: "holdfast 0.1.0",
	}
	refs := sampleRefs()
	h.RefCount = uint64(len(refs))
	h.RefsHash, _ = RefsHash(refs)
	h.Sign(testMACKey())
	return h
}

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

// golden compares got with the hex file name, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := goldenDir + "/" + name
	if *update {
		var sb strings.Builder
		h := hex.EncodeToString(got)
		for len(h) > 64 {
			sb.WriteString(h[:64] + "\n")
			h = h[64:]
		}
		sb.WriteString(h + "\n")
		if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	want, err := hex.DecodeString(strings.Join(strings.Fields(string(raw)), ""))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("%s differs:\n got %x\nwant %x", path, got, want)
	}
}
