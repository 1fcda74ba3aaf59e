package seal

import (
	"strings"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format/keys"
)

// xof returns n deterministic bytes: BLAKE3 XOF of seed.
func xof(seed string, n int) []byte {
	h := blake3.New()
	_, _ = h.WriteString(seed)
	b := make([]byte, n)
	if _, err := h.Digest().Read(b); err != nil {
		panic(err)
	}
	return b
}

// repeatedText returns n bytes of highly compressible text.
func repeatedText(n int) []byte {
	const line = "Holdfast seals every chunk before it leaves the client.\n"
	return []byte(strings.Repeat(line, n/len(line)+1)[:n])
}

// goldenMaster is the fixed master of the vectors: key bytes 0..31.
func goldenMaster() *keys.Master {
	m := &keys.Master{}
	for i := range m.Key {
		m.Key[i] = byte(i)
	}
	for i := range m.RepoID {
		m.RepoID[i] = byte(0xa0 + i)
	}
	return m
}

func testSealer() *Sealer { return NewSealer(goldenMaster().Derive()) }
