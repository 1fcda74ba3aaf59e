// Package pack encodes and decodes packs: the server-side files that hold
// many sealed chunk envelopes, written once, each with a trailer that indexes
// its records so the Pebble index can always be rebuilt from the packs
// alone (SPEC.md §8).
//
// The server never holds a key. Records are opaque envelope bytes; the
// trailer gives each record's chunk ID, position and a 16-byte BLAKE3
// checksum, so one record fetched by a range read can be verified on its
// own ([VerifyRecord]).
//
// # Layout
//
// All integers are big-endian.
//
//	offset      size       field
//	0           4          magic "HFPK"
//	4           1          version (1)
//	5           3          reserved, zero
//	8           L1+...+Ln  records: envelopes back to back, no framing
//	T           60*n       trailer: n entries, in record (offset) order
//	T+60n       49         footer
//
//	trailer entry (EntrySize = 60)
//	0   32  chunk ID
//	32  8   record offset in the pack
//	40  4   record length
//	44  16  checksum: BLAKE3-256(envelope)[:16]
//
//	footer (FooterSize = 49, at the very end)
//	0   8   trailer offset T
//	8   4   entry count n (>= 1)
//	12  32  BLAKE3-256 of the trailer bytes
//	44  1   version (1)
//	45  4   magic "HFPF"
//
// Records tile [8, T) exactly: the first starts at 8, each starts where the
// previous ends, none is empty, and the last ends at T. A chunk ID appears at
// most once. The pack ID is the unkeyed BLAKE3-256 of all pack bytes ([IDOf]).
//
// # Reading
//
// A reader that knows the pack length P reads the footer (P-49, 49 bytes),
// [DecodeFooter], then the trailer (T, P-49-T), [DecodeTrailer]; or, with
// the whole pack in memory, [Parse], which also checks every record.
//
// # Writing
//
// [Builder] assembles a pack in memory (the repository's pack writer owns
// the I/O); [Writer] streams the same bytes to an io.Writer.
//
// # Neighbours
//
// Envelopes come sealed from the client (package seal). A finished pack is
// split into erasure-coded shards by package shard; its entries become
// chunk-location keys in package indexkey.
package pack
