// Package shard encodes the erasure-coded shards of a pack (SPEC.md §9)
// and does the coding itself: a pack of P bytes is split into k data shards
// of ShardSize(P, k) bytes (systematic Reed-Solomon, so data shard i is
// simply pack bytes [i*size, (i+1)*size), zero padded) plus m parity shards,
// and each shard is stored as its own object on its own store. Any k shards
// rebuild the pack; reads of a few records take their bytes straight from
// the data shards ([Locate]).
//
// # Object layout
//
// A shard object is a HeaderSize (96) byte header followed by the shard
// data. All integers are big-endian.
//
//	offset  size  field
//	0       4     magic "HFSH"
//	4       1     version (1)
//	5       1     k, data shards (1..32)
//	6       1     m, parity shards (0..32-k)
//	7       1     index of this shard (< k+m; >= k is parity)
//	8       32    pack ID
//	40      8     pack length P (1..format.MaxPackSize)
//	48      8     shard data length (== ShardSize(P, k))
//	56      32    BLAKE3-256 of the shard data
//	88      8     BLAKE3-256 of bytes 0..87, first 8 bytes
//	96      ...   shard data
//
// The header makes a shard self-describing: with no index at all, any k
// shards of a pack identify the pack, rebuild it and let it be checked
// against its ID; scrub checks each shard on its own ([Verify]).
//
// # Names
//
// [ObjectName] gives "<repo>/packs/<2 hex>/<pack ID hex>.<2-digit index>".
//
// # Coding
//
// [Split] and [Join] wrap github.com/klauspost/reedsolomon with its default
// (systematic Vandermonde, GF(2^8) with polynomial 0x11D) matrix; encoders
// are cached per (k, m). This package does no I/O.
//
// # Neighbours
//
// Packs come from package pack; repo/erasure places shards on stores and
// records the placement in the index (package indexkey, PackRecord).
package shard
