package index

import (
	"encoding/binary"

	"github.com/holdfast-backup/holdfast/format"
)

// blockFilter is a split-block Bloom filter (the layout Parquet and Impala
// use): each key sets 8 bits in one 256-bit block, so a probe touches one
// cache line. It answers most lookups of absent IDs in the presence table
// without a read; a "maybe" is settled by the read.
//
// Chunk IDs are keyed BLAKE3 hashes, so their bytes serve as the hash: the
// first 8 pick the block, the next 4 the bits. A client that chooses IDs
// to collide in the filter only makes its own lookups read more.
type blockFilter struct {
	blocks [][8]uint32
}

// filterBitsPerKey gives about 0.5% false positives for this layout.
const filterBitsPerKey = 12

// salts are the odd constants of the Parquet specification's split-block
// filter: one multiplier per 32-bit word of a block.
var salts = [8]uint32{
	0x47b6137b, 0x44974d91, 0x8824ad5b, 0xa2b7289d,
	0x705495c7, 0x2df1424b, 0x9efc4947, 0x5c6bfb31,
}

// newBlockFilter returns a filter of about bits bits (at least one block).
func newBlockFilter(bits int64) blockFilter {
	n := max(bits/256, 1)
	return blockFilter{blocks: make([][8]uint32, n)}
}

func (f blockFilter) block(id *format.ID) (*[8]uint32, uint32) {
	h := binary.LittleEndian.Uint64(id[0:8])
	// Multiply-shift maps h onto [0, len) without a division.
	i := (h >> 32) * uint64(len(f.blocks)) >> 32
	return &f.blocks[i], binary.LittleEndian.Uint32(id[8:12])
}

func (f blockFilter) add(id *format.ID) {
	b, x := f.block(id)
	for i, s := range salts {
		b[i] |= 1 << ((x * s) >> 27)
	}
}

// mayContain reports false only for an ID that was never added.
func (f blockFilter) mayContain(id *format.ID) bool {
	b, x := f.block(id)
	for i, s := range salts {
		if b[i]&(1<<((x*s)>>27)) == 0 {
			return false
		}
	}
	return true
}

// bytes is the filter's memory.
func (f blockFilter) bytes() int64 { return int64(len(f.blocks)) * 32 }
