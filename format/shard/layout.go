package shard

import "github.com/holdfast-backup/holdfast/format"

// Align is the granularity of shard sizes. The reedsolomon SIMD kernels
// work on 64-byte blocks and fall back to slower generic code for a ragged
// tail; padding every shard to a multiple of 64 keeps all of it on the fast
// path, for at most 63 bytes per shard.
const Align = 64

// ShardSize returns the size of each shard's data for a pack of packLen
// bytes split into k data shards: ceil(packLen/k) rounded up to a multiple
// of Align. Data shard i holds pack bytes [i*size, (i+1)*size), zero padded
// past the end of the pack. It returns 0 for packLen < 1 or k < 1.
func ShardSize(packLen int64, k int) int64 {
	if packLen < 1 || k < 1 {
		return 0
	}
	per := (packLen + int64(k) - 1) / int64(k)
	return (per + Align - 1) / Align * Align
}

// Span is a piece of a pack byte range that lies in one data shard.
type Span struct {
	Index  int   // data shard index
	Offset int64 // offset within the shard data
	Length int64
}

// ObjectOffset returns the offset of the span within the shard object,
// which starts with the header.
func (s Span) ObjectOffset() int64 { return HeaderSize + s.Offset }

// Locate maps the pack byte range [off, off+length) to the data shards that
// hold it, in order, for range reads straight from data shards (no decoding
// while all of them are present). The caller checks the range against the
// pack length. It returns nil for an empty range or one that no pack can
// hold (past format.MaxPackSize, or shardSize < 1).
func Locate(off, length, shardSize int64) []Span {
	if off < 0 || length <= 0 || shardSize <= 0 || off > format.MaxPackSize || length > format.MaxPackSize-off {
		return nil
	}
	end := off + length
	spans := make([]Span, 0, (end-1)/shardSize-off/shardSize+1)
	for off < end {
		idx, within := off/shardSize, off%shardSize
		n := min(end-off, shardSize-within)
		spans = append(spans, Span{Index: int(idx), Offset: within, Length: n})
		off += n
	}
	return spans
}
