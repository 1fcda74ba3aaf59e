package tree

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/zeebo/blake3"
)

var update = flag.Bool("update", false, "rewrite the golden files in format/testdata/tree")

const goldenDir = "../testdata/tree"

func sumOf(b []byte) []byte {
	s := blake3.Sum256(b)
	return s[:]
}

// TestGolden pins the exact bytes of the sample tree. A change here is a
// format change: bump Version instead of updating the file.
func TestGolden(t *testing.T) {
	b, err := Encode(sampleEntries())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(goldenDir, "sample.hex")
	if *update {
		writeHex(t, path, b)
	}
	want := readHex(t, path)
	if !bytes.Equal(b, want) {
		t.Fatalf("encoding differs from %s:\n got %x\nwant %x", path, b, want)
	}
	got, err := Decode(want)
	if err != nil || !reflect.DeepEqual(got, sampleEntries()) {
		t.Fatalf("golden decode: %v", err)
	}
	// The entries as JSON, so a second implementation can rebuild the input
	// (IDs in hex, xattr values in base64).
	js, err := json.MarshalIndent(sampleEntries(), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	js = append(js, '\n')
	jsPath := filepath.Join(goldenDir, "sample.json")
	if *update {
		if err := os.WriteFile(jsPath, js, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if old, err := os.ReadFile(jsPath); err != nil || !bytes.Equal(old, js) {
		t.Fatalf("%s is missing or stale (run with -update): %v", jsPath, err)
	}
}

// writeHex writes b as lower-case hex, 64 digits per line.
func writeHex(t *testing.T, path string, b []byte) {
	t.Helper()
	var sb strings.Builder
	h := hex.EncodeToString(b)
	for len(h) > 64 {
		sb.WriteString(h[:64] + "\n")
		h = h[64:]
	}
	sb.WriteString(h + "\n")
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readHex(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	b, err := hex.DecodeString(strings.Join(strings.Fields(string(raw)), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
