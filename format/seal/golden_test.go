package seal

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
)

var update = flag.Bool("update", false, "rewrite golden vectors in ../testdata/seal")

const goldenPath = "../testdata/seal/vectors.json"

type goldenFile struct {
	Comment   string       `json:"comment"`
	MasterKey string       `json:"master_key"`
	IDKey     string       `json:"id_key"`
	AEADKey   string       `json:"aead_key"`
	Nonce     string       `json:"nonce"`
	Cases     []goldenCase `json:"cases"`
}

type goldenCase struct {
	Name        string `json:"name"`
	Plaintext   string `json:"plaintext"` // how to generate it
	Length      int    `json:"length"`
	BLAKE3      string `json:"plaintext_blake3"` // unkeyed, to check the generator
	Type        Type   `json:"type"`
	ID          string `json:"id"`
	Writer      string `json:"writer"` // the Sealer's choice (Compressing)
	Compression string `json:"compression"`
	Envelope    string `json:"envelope"`
}

// goldenWriters are the writers of the vectors, in order: every input is
// sealed by each.
var goldenWriters = []Compression{Zstd, S2}

var goldenInputs = []struct {
	name, spec string
	data       []byte
}{
	{"empty", "empty", nil},
	{"one byte", "the single byte 0x61 ('a')", []byte{'a'}},
	{"text 4 KiB", "the line \"Holdfast seals every chunk before it leaves the client.\\n\" repeated, cut to 4096 bytes", repeatedText(4096)},
	{"random 64 KiB", "65536 bytes of unkeyed BLAKE3 XOF output of the ASCII string \"holdfast seal golden random\"", xof("holdfast seal golden random", 64<<10)},
}

func goldenNonce() []byte {
	n := make([]byte, NonceSize)
	for i := range n {
		n[i] = byte(100 + i)
	}
	return n
}

func makeGoldenFile(t *testing.T) goldenFile {
	m := goldenMaster()
	k := m.Derive()
	g := goldenFile{
		Comment: "Holdfast chunk envelope vectors (SPEC.md, Chunk envelopes). Master key bytes 0..31; " +
			"envelope = Seal(type, ID(plaintext), plaintext, nonce) by a sealer writing `writer`. Compressed envelopes depend on the encoder; " +
			"every envelope here must open forever, exact re-sealing may change with a zstd or s2 upgrade (then run -update).",
		MasterKey: hex.EncodeToString(m.Key[:]),
		IDKey:     hex.EncodeToString(k.ID[:]),
		AEADKey:   hex.EncodeToString(k.AEAD[:]),
		Nonce:     hex.EncodeToString(goldenNonce()),
	}
	for _, w := range goldenWriters {
		s, err := NewSealer(k).Compressing(w)
		if err != nil {
			t.Fatal(err)
		}
		g.Cases = append(g.Cases, goldenCases(t, s)...)
	}
	return g
}

func goldenCases(t *testing.T, s *Sealer) []goldenCase {
	var cases []goldenCase
	for _, in := range goldenInputs {
		for _, typ := range []Type{TypeData, TypeTree} {
			id := s.ID(in.data)
			env, err := s.Seal(nil, typ, id, in.data, goldenNonce())
			if err != nil {
				t.Fatal(err)
			}
			sum := blake3.Sum256(in.data)
			cases = append(cases, goldenCase{
				Name:        in.name + ", " + typ.String() + ", " + s.Compression().String() + " writer",
				Plaintext:   in.spec,
				Length:      len(in.data),
				BLAKE3:      hex.EncodeToString(sum[:]),
				Type:        typ,
				ID:          id.String(),
				Writer:      s.Compression().String(),
				Compression: Compression(env[2]).String(),
				Envelope:    hex.EncodeToString(env),
			})
		}
	}
	return cases
}

func TestGolden(t *testing.T) {
	got := makeGoldenFile(t)
	if *update {
		b, err := json.MarshalIndent(got, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenPath, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	var want goldenFile
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if got.IDKey != want.IDKey || got.AEADKey != want.AEADKey {
		t.Fatalf("derived keys differ from the vectors")
	}
	if len(got.Cases) != len(want.Cases) {
		t.Fatalf("%d cases, vectors have %d", len(got.Cases), len(want.Cases))
	}
	s := testSealer()
	for i, w := range want.Cases {
		g := got.Cases[i]
		if g.BLAKE3 != w.BLAKE3 || g.ID != w.ID || g.Type != w.Type {
			t.Errorf("%s: plaintext or ID differs: got %s / %s, want %s / %s", w.Name, g.BLAKE3, g.ID, w.BLAKE3, w.ID)
		}
		// Compatibility: the stored envelope must open to the plaintext.
		env, _ := hex.DecodeString(w.Envelope)
		id, err := format.ParseID(w.ID)
		if err != nil {
			t.Fatal(err)
		}
		p, typ, err := s.Open(nil, id, env)
		in := goldenInputs[i%(2*len(goldenInputs))/2]
		if err != nil || typ != w.Type || !bytes.Equal(p, in.data) {
			t.Errorf("%s: stored envelope does not open: %v", w.Name, err)
		}
		// Determinism: this build seals to the same bytes.
		if g.Envelope != w.Envelope || g.Compression != w.Compression || g.Writer != w.Writer {
			t.Errorf("%s: envelope differs (compression %s, want %s); a zstd upgrade? see the comment in %s",
				w.Name, g.Compression, w.Compression, goldenPath)
		}
	}
}
