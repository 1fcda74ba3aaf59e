package fuzz

import (
	"bytes"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/tree"
)

// withFixedSum replaces the last 32 bytes of b with the BLAKE3-256 of the
// bytes before them. Random mutations almost never keep a checksum right,
// so without this the fuzzer would rarely get past the tree trailer and
// never exercise the entry decoder.
func withFixedSum(b []byte) []byte {
	if len(b) < 32 {
		return nil
	}
	pre := b[:len(b)-32]
	sum := blake3.Sum256(pre)
	return append(bytes.Clone(pre), sum[:]...)
}

// FuzzTreeDecode: decoding arbitrary bytes never panics and never returns
// an unsafe name, every failure is corrupt, and whatever decodes
// re-encodes to the same bytes.
func FuzzTreeDecode(f *testing.F) {
	empty, _ := tree.Encode(nil)
	f.Add(empty)
	one, _ := tree.Encode([]tree.Entry{{Name: "a", Type: tree.File, Mode: 0o644, Size: 3,
		Content: []tree.Extent{{ID: format.ID{1}, Length: 1}, {Hole: true, Length: 2}}}})
	f.Add(one)
	f.Add([]byte("HFTR\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, b := range [][]byte{data, withFixedSum(data)} {
			entries, err := tree.Decode(b)
			if err != nil {
				if !format.IsCorrupt(err) {
					t.Fatalf("non-corrupt error from in-memory input: %v", err)
				}
				continue
			}
			for i := range entries {
				if err := tree.CheckName(entries[i].Name); err != nil {
					t.Fatalf("decoded unsafe name %q: %v", entries[i].Name, err)
				}
			}
			again, err := tree.Encode(entries)
			if err != nil {
				t.Fatalf("decoded tree does not re-encode: %v", err)
			}
			if !bytes.Equal(again, b) {
				t.Fatalf("re-encoding differs:\n in %x\nout %x", b, again)
			}
		}
	})
}
