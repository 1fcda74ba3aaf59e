package fuzz

import (
	"bytes"
	"encoding/binary"
	"io"
	"testing"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/snapshot"
	"github.com/holdfast-backup/holdfast/format/tree"
)

// FuzzSnapshotDecode: decoding arbitrary bytes never panics, every failure
// is corrupt, and whatever decodes re-encodes to the same bytes (and so
// keeps its ID). Verify must not panic either.
func FuzzSnapshotDecode(f *testing.F) {
	h := &snapshot.Header{Time: 1, Host: "h", Source: snapshot.Source{Kind: snapshot.KindPath, Name: "/data",
		Labels: []snapshot.Label{{Key: "k", Value: "v"}}}, Tags: []string{"a", "b"}, Paths: []string{"/data"},
		Root: []tree.Extent{{ID: format.ID{7}, Length: 100}}, RefCount: 1}
	h.Sign([32]byte{})
	f.Add(h.Encode())
	f.Add([]byte("HFSN\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := snapshot.Decode(data)
		if err != nil {
			if !format.IsCorrupt(err) {
				t.Fatalf("non-corrupt error: %v", err)
			}
			return
		}
		if !bytes.Equal(h.Encode(), data) {
			t.Fatalf("re-encoding differs:\n in %x\nout %x", data, h.Encode())
		}
		if err := h.Validate(); err != nil {
			t.Fatalf("decoded header does not validate: %v", err)
		}
		_ = h.Verify([32]byte{})
	})
}

// FuzzRefsDecode: DecodeRefs and the streaming RefReader never panic,
// agree with each other, and what decodes re-encodes to the same bytes. The
// input is also tried with its checksum fixed so the fuzzer reaches the
// order and count checks.
func FuzzRefsDecode(f *testing.F) {
	empty, _ := snapshot.EncodeRefs(nil)
	f.Add(empty)
	two, _ := snapshot.EncodeRefs([]format.ID{{1}, {2}})
	f.Add(two)
	f.Add(binary.BigEndian.AppendUint64([]byte("HFRL\x01"), 1<<62))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, b := range [][]byte{data, withFixedSum(data)} {
			ids, err := snapshot.DecodeRefs(b)
			streamed, sum, serr := readRefs(b)
			if (err == nil) != (serr == nil) {
				t.Fatalf("DecodeRefs says %v, RefReader says %v", err, serr)
			}
			if err != nil {
				if !format.IsCorrupt(err) || !format.IsCorrupt(serr) {
					t.Fatalf("non-corrupt errors: %v / %v", err, serr)
				}
				continue
			}
			if len(ids) != len(streamed) || (len(ids) > 0 && !equalIDs(ids, streamed)) {
				t.Fatal("DecodeRefs and RefReader disagree")
			}
			again, err := snapshot.EncodeRefs(ids)
			if err != nil || !bytes.Equal(again, b) {
				t.Fatalf("re-encoding differs (err %v)", err)
			}
			if hash, _ := snapshot.RefsHash(ids); hash != sum {
				t.Fatal("RefsHash differs from the reader's Sum")
			}
		}
	})
}

func readRefs(b []byte) ([]format.ID, format.ID, error) {
	rr := snapshot.NewRefReader(bytes.NewReader(b))
	var ids []format.ID
	for {
		id, err := rr.Next()
		if err != nil {
			if err == io.EOF {
				return ids, rr.Sum(), nil
			}
			return nil, format.ID{}, err
		}
		ids = append(ids, id)
	}
}

func equalIDs(a, b []format.ID) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
