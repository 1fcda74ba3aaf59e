package pack

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/holdfast-backup/holdfast/format"
)

var update = flag.Bool("update", false, "rewrite the golden vectors in ../testdata/pack")

var goldenPath = filepath.Join("..", "testdata", "pack", "golden.json")

type goldenEntry struct {
	ID       format.ID `json:"id"`
	Offset   uint64    `json:"offset"`
	Length   uint32    `json:"length"`
	Checksum string    `json:"checksum"`
}

type golden struct {
	Comment   string        `json:"comment"`
	Envelopes []string      `json:"envelopes"`
	Pack      string        `json:"pack"`
	ID        format.ID     `json:"id"`
	Entries   []goldenEntry `json:"entries"`
}

// GoldenRecords are the three fixed envelopes of the golden pack. Package
// shard's golden test builds the same pack.
func goldenRecords() []record { return records("holdfast golden pack", 200, 37, 513) }

func TestGolden(t *testing.T) {
	rs := goldenRecords()
	data, id, entries := build(t, rs)
	g := golden{
		Comment: "pack of 3 records; chunk ID and envelope of record X (a, b, c) are BLAKE3 XOF output of \"holdfast golden pack id X\" and \"holdfast golden pack envelope X\"; envelope sizes 200, 37, 513",
		Pack:    hex.EncodeToString(data),
		ID:      id,
	}
	for i, e := range entries {
		g.Envelopes = append(g.Envelopes, hex.EncodeToString(rs[i].env))
		g.Entries = append(g.Entries, goldenEntry{e.ID, e.Offset, e.Length, hex.EncodeToString(e.Checksum[:])})
	}
	got, err := json.MarshalIndent(g, "", "  ")
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
		t.Fatalf("pack encoding differs from %s (run with -update if the change is intended)", goldenPath)
	}
	// The stored bytes also decode on their own, independently of the builder.
	var stored golden
	if err := json.Unmarshal(want, &stored); err != nil {
		t.Fatal(err)
	}
	raw, err := hex.DecodeString(stored.Pack)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := Parse(raw)
	if err != nil || len(parsed) != 3 || IDOf(raw) != stored.ID {
		t.Fatalf("golden pack does not parse: %v", err)
	}
}
