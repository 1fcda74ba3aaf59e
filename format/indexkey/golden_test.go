package indexkey

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden vectors in ../testdata/indexkey")

var goldenPath = filepath.Join("..", "testdata", "indexkey", "golden.json")

type goldenKV struct {
	Name     string `json:"name"`
	Describe string `json:"describe"`
	Key      string `json:"key"`
	Value    string `json:"value"`
}

// TestGolden pins one key and value per keyspace (the samples above: IDs
// from BLAKE3 XOF of fixed labels, fixed times).
func TestGolden(t *testing.T) {
	var kvs []goldenKV
	for _, s := range samples() {
		kvs = append(kvs, goldenKV{s.name, Describe(s.key), hex.EncodeToString(s.key), hex.EncodeToString(s.value)})
	}
	got, err := json.MarshalIndent(kvs, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.WriteFile(goldenPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("index encoding differs from %s (run with -update if the change is intended)", goldenPath)
	}
}
