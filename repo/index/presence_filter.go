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
	return blockFilter{blocks: make([][8]uint32, filterBlocks(bits))}
}

// filterBlocks is the number of 256-bit blocks for about bits bits.
func filterBlocks(bits int64) int64 { return max(bits/256, 1) }

// hashes are the filter's two hashes of an ID: one picks the block, the
// other the bits in it.
func hashes(id *format.ID) (uint64, uint32) {
	return binary.LittleEndian.Uint64(id[0:8]), binary.LittleEndian.Uint32(id[8:12])
}

func (f blockFilter) block(h uint64) *[8]uint32 {
	// Multiply-shift maps h onto [0, len) without a division.
	return &f.blocks[(h>>32)*uint64(len(f.blocks))>>32]
}

func (f blockFilter) add(id *format.ID) { f.addHash(hashes(id)) }

// mayContain reports false only for an ID that was never added.
func (f blockFilter) mayContain(id *format.ID) bool { return f.mayContainHash(hashes(id)) }

func (f blockFilter) addHash(h uint64, x uint32) {
	b := f.block(h)
	for i, s := range salts {
		b[i] |= 1 << ((x * s) >> 27)
	}
}

func (f blockFilter) mayContainHash(h uint64, x uint32) bool {
	b := f.block(h)
	for i, s := range salts {
		if b[i]&(1<<((x*s)>>27)) == 0 {
			return false
		}
	}
	return true
}

// bytes is the filter's memory.
func (f blockFilter) bytes() int64 { return int64(len(f.blocks)) * 32 }

// putFilter remembers, in constant memory, which chunks were put since a
// table's snapshot: the table cannot know them, and a "maybe" is settled
// by asking Pebble. Past its sizing its false positives rise, which costs
// Pebble lookups, never a wrong answer.
type putFilter struct {
	f blockFilter
	n int // puts added
}

// putFilterKeys sizes a put filter: the most puts a table takes before
// it is rebuilt (maxRebuildAt) at filterBitsPerKey, 1.5 MiB.
const putFilterKeys = maxRebuildAt

func newPutFilter() *putFilter {
	return &putFilter{f: newBlockFilter(putFilterKeys * filterBitsPerKey)}
}

// refHashes mixes the repository into the ID's hashes: the filter serves
// every repository.
func refHashes(ref *chunkRef) (uint64, uint32) {
	h, x := hashes(&ref.id)
	return h ^ uint64(ref.repo)*0x9e3779b97f4a7c15, x
}

func (pf *putFilter) add(ref *chunkRef) {
	pf.f.addHash(refHashes(ref))
	pf.n++
}

func (pf *putFilter) mayContain(ref *chunkRef) bool {
	return pf != nil && pf.f.mayContainHash(refHashes(ref))
}

// merge adds older's puts to pf (same sizing).
func (pf *putFilter) merge(older *putFilter) {
	for i := range pf.f.blocks {
		for j := range pf.f.blocks[i] {
			pf.f.blocks[i][j] |= older.f.blocks[i][j]
		}
	}
	pf.n += older.n
}
