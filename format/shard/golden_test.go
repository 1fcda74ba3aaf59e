package shard

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/pack"
)

var update = flag.Bool("update", false, "rewrite the golden vectors in ../testdata/shard")

var goldenPath = filepath.Join("..", "testdata", "shard", "golden.json")

type goldenShard struct {
	Name   string `json:"name"`
	Header string `json:"header"`
	Data   string `json:"data"`
}

type golden struct {
	Comment   string        `json:"comment"`
	PackID    format.ID     `json:"pack_id"`
	PackLen   int64         `json:"pack_len"`
	K         int           `json:"k"`
	M         int           `json:"m"`
	ShardSize int64         `json:"shard_size"`
	Shards    []goldenShard `json:"shards"`
}

// goldenPack reads the pack of ../testdata/pack/golden.json, so that the
// two sets of vectors describe the same bytes.
func goldenPack(t *testing.T) []byte {
	b, err := os.ReadFile(filepath.Join("..", "testdata", "pack", "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Pack string    `json:"pack"`
		ID   format.ID `json:"id"`
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	data, err := hex.DecodeString(g.Pack)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pack.Parse(data); err != nil || pack.IDOf(data) != g.ID {
		t.Fatalf("golden pack: %v", err)
	}
	return data
}

func TestGolden(t *testing.T) {
	const k, m = 4, 2
	data := goldenPack(t)
	id := pack.IDOf(data)
	shards, err := Split(data, k, m)
	if err != nil {
		t.Fatal(err)
	}
	g := golden{
		Comment: "the pack of ../pack/golden.json split into k=4 data and m=2 parity shards; objects are header followed by data",
		PackID:  id, PackLen: int64(len(data)), K: k, M: m, ShardSize: ShardSize(int64(len(data)), k),
	}
	for i, s := range shards {
		h, err := EncodeHeader(NewHeader(id, int64(len(data)), k, m, i, s))
		if err != nil {
			t.Fatal(err)
		}
		g.Shards = append(g.Shards, goldenShard{ObjectName("golden", id, i), hex.EncodeToString(h), hex.EncodeToString(s)})
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
		t.Fatalf("shard encoding differs from %s (run with -update if the change is intended)", goldenPath)
	}
	// The stored objects decode and rebuild the pack without parity help
	// and with two data shards gone.
	var stored golden
	if err := json.Unmarshal(want, &stored); err != nil {
		t.Fatal(err)
	}
	objs := make([][]byte, k+m)
	for i, s := range stored.Shards {
		hb, _ := hex.DecodeString(s.Header)
		db, _ := hex.DecodeString(s.Data)
		h, d, err := DecodeObject(append(hb, db...))
		if err != nil || h.Index != i {
			t.Fatalf("stored shard %d: %v", i, err)
		}
		objs[i] = d
	}
	objs[0], objs[2] = nil, nil
	rebuilt, err := Join(objs, k, m, stored.PackLen)
	if err != nil || pack.IDOf(rebuilt) != stored.PackID {
		t.Fatalf("stored shards do not rebuild the pack: %v", err)
	}
}
