package dataset

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
)

// TestDB writes the database-like file twice (same bytes), checks every
// page's header and CRC, mutates both copies with the same seed (same
// bytes again), and checks that exactly the reported pages changed, page 0
// among them, most in the hot tail, with valid CRCs and the size kept.
func TestDB(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")
	const size = 4<<20 + 100 // rounds down to 512 pages
	for _, p := range []string{a, b} {
		if err := WriteDB(p, size, 9); err != nil {
			t.Fatal(err)
		}
	}
	orig := readFile(t, a)
	if len(orig) != 512*DBPageSize || !bytes.Equal(orig, readFile(t, b)) {
		t.Fatalf("size %d or not deterministic", len(orig))
	}
	checkPages(t, orig)
	mu, err := MutateDB(a, 0.05, 4)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := MutateDB(b, 0.05, 4); err != nil {
		t.Fatal(err)
	}
	got := readFile(t, a)
	if !bytes.Equal(got, readFile(t, b)) {
		t.Fatal("same seed, different mutation")
	}
	checkPages(t, got)
	if mu.Regions != 25 || mu.Bytes != 25*DBPageSize || mu.Total != int64(len(orig)) {
		t.Errorf("mutation %+v, want 25 pages", mu)
	}
	changed, hot := 0, 0
	for p := 0; p < 512; p++ {
		if !bytes.Equal(orig[p*DBPageSize:(p+1)*DBPageSize], got[p*DBPageSize:(p+1)*DBPageSize]) {
			changed++
			if p >= 512-51 {
				hot++
			}
		}
	}
	if changed != mu.Regions || bytes.Equal(orig[:DBPageSize], got[:DBPageSize]) {
		t.Errorf("%d pages changed (page 0 changed: %v), reported %d", changed, !bytes.Equal(orig[:DBPageSize], got[:DBPageSize]), mu.Regions)
	}
	if hot < changed/2 {
		t.Errorf("only %d of %d changed pages in the hot tail", hot, changed)
	}
	if _, err := MutateDB(a, 0, 1); err == nil {
		t.Error("fraction 0 accepted")
	}
	if err := os.WriteFile(b, []byte("short"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := MutateDB(b, 0.5, 1); err == nil {
		t.Error("a file of no whole pages accepted")
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checkPages(t *testing.T, b []byte) {
	t.Helper()
	for p := 0; p*DBPageSize < len(b); p++ {
		page := b[p*DBPageSize : (p+1)*DBPageSize]
		if string(page[:8]) != dbMagic || binary.LittleEndian.Uint64(page[8:]) != uint64(p) ||
			binary.LittleEndian.Uint32(page[24:]) == 0 ||
			binary.LittleEndian.Uint32(page[28:]) != crc32.ChecksumIEEE(page[dbHeader:]) {
			t.Fatalf("page %d: bad header %x", p, page[:dbHeader])
		}
	}
}
