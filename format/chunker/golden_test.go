package chunker

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/zeebo/blake3"
)

var update = flag.Bool("update", false, "rewrite the golden files in ../testdata/chunker")

var goldenPath = filepath.Join("..", "testdata", "chunker", "boundaries.json")

// golden is the layout of boundaries.json.
type golden struct {
	Input       string      `json:"input"`
	InputSize   int         `json:"input_size"`
	InputBLAKE3 string      `json:"input_blake3"`
	Sets        []goldenSet `json:"sets"`
}

// goldenSet is the chunking of the golden input with one gear and params.
type goldenSet struct {
	Seed   string `json:"seed"` // hex of the 32-byte gear seed
	Params struct {
		Min int `json:"min"`
		Avg int `json:"avg"`
		Max int `json:"max"`
	} `json:"params"`
	Count int `json:"count"`
	// LengthsBLAKE3 is BLAKE3-256 of all chunk lengths as big-endian
	// uint64s, a short summary for SPEC.md.
	LengthsBLAKE3 string   `json:"lengths_blake3"`
	Lengths       []int    `json:"lengths"`
	BLAKE3        []string `json:"blake3"` // unkeyed BLAKE3-256 of each chunk
}

const goldenInput = "holdfast chunker golden input"

// makeGolden chunks the golden input with both gears and both parameter sets.
func makeGolden(t *testing.T) golden {
	data := xof(goldenInput, 32<<20)
	sum := blake3.Sum256(data)
	g := golden{
		Input:       "BLAKE3 XOF of the ASCII string " + `"` + goldenInput + `"`,
		InputSize:   len(data),
		InputBLAKE3: hex.EncodeToString(sum[:]),
	}
	for _, seed := range [][32]byte{{}, countingSeed()} {
		for _, p := range []Params{DefaultParams, smallParams} {
			var s goldenSet
			s.Seed = hex.EncodeToString(seed[:])
			s.Params.Min, s.Params.Avg, s.Params.Max = p.Min, p.Avg, p.Max
			lh := blake3.New()
			for _, c := range chunkAll(t, bytes.NewReader(data), p, NewGear(seed)) {
				s.Lengths = append(s.Lengths, len(c))
				_, _ = lh.Write(binary.BigEndian.AppendUint64(nil, uint64(len(c))))
				sum := blake3.Sum256(c)
				s.BLAKE3 = append(s.BLAKE3, hex.EncodeToString(sum[:]))
			}
			s.Count = len(s.Lengths)
			s.LengthsBLAKE3 = hex.EncodeToString(lh.Sum(nil))
			g.Sets = append(g.Sets, s)
		}
	}
	return g
}

func TestGolden(t *testing.T) {
	got, err := json.MarshalIndent(makeGolden(t), "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.WriteFile(goldenPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if bytes.Equal(got, want) {
		return
	}
	// Point at the first differing chunk rather than dumping the file.
	var w golden
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("golden file: %v", err)
	}
	g := makeGolden(t)
	for i := range min(len(g.Sets), len(w.Sets)) {
		gs, ws := g.Sets[i], w.Sets[i]
		if j := firstDiff(gs.Lengths, ws.Lengths); j >= 0 {
			t.Errorf("set %d (seed %s, %v): chunk %d length differs", i, gs.Seed, gs.Params, j)
		} else if j := firstDiff(gs.BLAKE3, ws.BLAKE3); j >= 0 {
			t.Errorf("set %d (seed %s, %v): chunk %d hash differs", i, gs.Seed, gs.Params, j)
		}
	}
	t.Fatalf("chunk boundaries differ from %s", goldenPath)
}

// firstDiff returns the first index where a and b differ, or -1.
func firstDiff[T comparable](a, b []T) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}
