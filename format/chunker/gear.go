package chunker

import (
	"encoding/binary"

	"github.com/zeebo/blake3"
)

// Gear is the table of 256 pseudo-random 64-bit values the rolling hash adds
// for each input byte. A repository derives its own table from a secret seed
// (package keys), so that chunk boundaries, and therefore chunk sizes, reveal
// nothing about content to someone without the repository key.
type Gear [256]uint64

// gearContext is written to the keyed hash that expands a seed into a table.
// Changing it changes every chunk boundary of every repository.
const gearContext = "holdfast gear table v1"

// NewGear expands seed into a gear table: the first 2048 bytes of the BLAKE3
// XOF output of BLAKE3-keyed(key = seed, message = "holdfast gear table v1"),
// read as 256 big-endian uint64 values (SPEC.md, chunker section).
func NewGear(seed [32]byte) *Gear {
	h, err := blake3.NewKeyed(seed[:])
	if err != nil {
		panic("chunker: blake3.NewKeyed rejected a 32-byte key: " + err.Error())
	}
	_, _ = h.WriteString(gearContext)
	var raw [256 * 8]byte
	_, _ = h.Digest().Read(raw[:])
	g := new(Gear)
	for i := range g {
		g[i] = binary.BigEndian.Uint64(raw[8*i:])
	}
	return g
}

// DefaultGear is the table for the all-zero seed. It is for tests and tools
// only: a real repository always uses the table derived from its own key.
var DefaultGear = NewGear([32]byte{})
