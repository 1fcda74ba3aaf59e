package keys

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"testing"
	"time"

	"github.com/holdfast-backup/holdfast/format/chunker"
)

var update = flag.Bool("update", false, "rewrite golden vectors in ../testdata/keys")

const goldenPath = "../testdata/keys/vectors.json"

// golden is the vector file: fixed inputs and the exact outputs they give.
type golden struct {
	Comment   string            `json:"comment"`
	MasterKey string            `json:"master_key"`
	RepoID    string            `json:"repo_id"`
	Chunker   chunker.Params    `json:"chunker"`
	Derived   map[string]string `json:"derived"`
	Password  string            `json:"password"`
	KDF       KDFParams         `json:"kdf"`
	Salt      string            `json:"salt"`
	Nonce     string            `json:"nonce"`
	Created   int64             `json:"created_unix"`
	Label     string            `json:"label"`
	KeyFile   string            `json:"key_file"`
}

func seq(start, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(start + i)
	}
	return b
}

// GoldenMaster is the fixed master of the vectors: key bytes 0..31, repo
// ID bytes 0xa0..0xaf, default chunker parameters.
func goldenMaster() *Master {
	m := &Master{Chunker: chunker.DefaultParams}
	copy(m.Key[:], seq(0, 32))
	copy(m.RepoID[:], seq(0xa0, 16))
	return m
}

func makeGolden(t *testing.T) golden {
	m := goldenMaster()
	k := m.Derive()
	g := golden{
		Comment:   "Holdfast key vectors (SPEC.md, Keys and key files). key_file = Wrap(master, password, kdf, label, created, salt||nonce).",
		MasterKey: hex.EncodeToString(m.Key[:]),
		RepoID:    hex.EncodeToString(m.RepoID[:]),
		Chunker:   m.Chunker,
		Derived: map[string]string{
			ContextID:   hex.EncodeToString(k.ID[:]),
			ContextAEAD: hex.EncodeToString(k.AEAD[:]),
			ContextMAC:  hex.EncodeToString(k.MAC[:]),
			ContextGear: hex.EncodeToString(k.Gear[:]),
		},
		Password: "correct horse",
		KDF:      TestKDF,
		Salt:     hex.EncodeToString(seq(200, SaltSize)),
		Nonce:    hex.EncodeToString(seq(100, NonceSize)),
		Created:  time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC).Unix(),
		Label:    "golden@holdfast",
	}
	rnd := bytes.NewReader(append(seq(200, SaltSize), seq(100, NonceSize)...))
	kf, err := Wrap(m, []byte(g.Password), g.KDF, g.Label, time.Unix(g.Created, 0), rnd)
	if err != nil {
		t.Fatal(err)
	}
	g.KeyFile = hex.EncodeToString(kf)
	return g
}

func TestGolden(t *testing.T) {
	got := makeGolden(t)
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
	var want golden
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	for ctx, w := range want.Derived {
		if got.Derived[ctx] != w {
			t.Errorf("derived %q = %s, want %s", ctx, got.Derived[ctx], w)
		}
	}
	if got.KeyFile != want.KeyFile {
		t.Errorf("key file:\n got %s\nwant %s", got.KeyFile, want.KeyFile)
	}
	// The stored file must open, whatever this build writes.
	kf, err := hex.DecodeString(want.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	m, info, err := Unwrap(kf, []byte(want.Password))
	if err != nil {
		t.Fatal(err)
	}
	if *m != *goldenMaster() || info.Label != want.Label || info.Created.Unix() != want.Created || info.KDF != want.KDF {
		t.Fatalf("golden key file opened to %v %+v", m, info)
	}
}
