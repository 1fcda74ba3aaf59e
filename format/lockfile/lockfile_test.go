package lockfile

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/holdfast-backup/holdfast/format"
)

var update = flag.Bool("update", false, "rewrite the golden vector in ../testdata/lockfile")

var goldenPath = filepath.Join("..", "testdata", "lockfile", "golden.json")

func sample() Lock {
	var id format.ID
	for i := range id {
		id[i] = byte(i)
	}
	return Lock{
		Snapshot: id,
		Mode:     Compliance,
		Until:    time.Date(2036, 1, 2, 3, 4, 5, 6, time.UTC),
		Set:      time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
}

type golden struct {
	Comment  string    `json:"comment"`
	Snapshot format.ID `json:"snapshot"`
	Mode     string    `json:"mode"`
	Until    string    `json:"until"`
	Set      string    `json:"set"`
	Encoded  string    `json:"encoded"`
}

// TestGolden pins the byte encoding: a change of the format must change
// the vector (run with -update) and SPEC.md §13.3 together.
func TestGolden(t *testing.T) {
	l := sample()
	b, err := Encode(l)
	if err != nil {
		t.Fatal(err)
	}
	g := golden{Comment: "a compliance lock object (SPEC.md §13.3)", Snapshot: l.Snapshot, Mode: l.Mode.String(),
		Until: l.Until.Format(time.RFC3339Nano), Set: l.Set.Format(time.RFC3339Nano), Encoded: hex.EncodeToString(b)}
	want, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	if *update {
		os.MkdirAll(filepath.Dir(goldenPath), 0o755)
		if err := os.WriteFile(goldenPath, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	have, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(have, want) {
		t.Fatalf("golden vector differs from the encoder's output:\n%s", want)
	}
	var stored golden
	if err := json.Unmarshal(have, &stored); err != nil {
		t.Fatal(err)
	}
	enc, _ := hex.DecodeString(stored.Encoded)
	got, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if got.Snapshot != l.Snapshot || got.Mode != l.Mode || !got.Until.Equal(l.Until) || !got.Set.Equal(l.Set) {
		t.Fatalf("decoded %+v, want %+v", got, l)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, l := range []Lock{sample(), {Snapshot: format.ID{9}, Mode: Governance, Until: time.Unix(0, 1), Set: time.Unix(1, 0)}} {
		b, err := Encode(l)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := Encode(got)
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs")
		}
	}
}

func TestEncodeRefuses(t *testing.T) {
	ok := sample()
	for name, l := range map[string]Lock{
		"zero snapshot": {Mode: Governance, Until: ok.Until, Set: ok.Set},
		"mode 0":        {Snapshot: ok.Snapshot, Until: ok.Until, Set: ok.Set},
		"mode 3":        {Snapshot: ok.Snapshot, Mode: 3, Until: ok.Until, Set: ok.Set},
		"no until":      {Snapshot: ok.Snapshot, Mode: Governance, Set: ok.Set},
		"epoch set":     {Snapshot: ok.Snapshot, Mode: Governance, Until: ok.Until, Set: time.Unix(0, 0)},
	} {
		if _, err := Encode(l); err == nil {
			t.Errorf("%s: encoded", name)
		}
	}
}

// TestDecodeCorrupt: every truncation and every single-bit flip is refused
// as corruption, never a panic or a wrong lock.
func TestDecodeCorrupt(t *testing.T) {
	b, err := Encode(sample())
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(b) {
		if _, err := Decode(b[:n]); !format.IsCorrupt(err) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
	if _, err := Decode(append(bytes.Clone(b), 0)); !format.IsCorrupt(err) {
		t.Fatalf("trailing byte: %v", err)
	}
	for i := range len(b) * 8 {
		c := bytes.Clone(b)
		c[i/8] ^= 1 << (i % 8)
		if _, err := Decode(c); !format.IsCorrupt(err) {
			t.Fatalf("bit %d flipped: %v", i, err)
		}
	}
	v := bytes.Clone(b)
	v[4] = 2
	if _, err := Decode(v); !errors.Is(err, format.ErrVersion) {
		t.Fatalf("version 2: %v", err)
	}
}
