// Package format holds every Holdfast on-disk and wire format as pure
// encode/decode code with no I/O, so that each format can be read, tested,
// fuzzed and specified on its own. SPEC.md is the byte-level specification;
// each subpackage's doc names its section.
//
//	package        object                                   SPEC.md
//	chunker        content-defined chunk boundaries (FastCDC) §3
//	keys           master key, sub-keys, Argon2id key files   §4
//	seal           chunk IDs and sealed chunk envelopes       §5
//	tree           encrypted directory listings              §6
//	snapshot       clear snapshot header, reference list     §7
//	pack           packs of envelopes with a trailer index   §8
//	shard          Reed-Solomon shards of a pack             §9
//	indexkey       Pebble index keys and values              §11
//	proto, gen     the Connect-RPC API (holdfast.v1)         §12
//
// A backup flows through them in this order: the chunker cuts a file, seal
// names each chunk by keyed BLAKE3 and encrypts it, trees list directories
// (and are themselves chunked and sealed), the snapshot header points at the
// root tree and carries the reference list; on the server, pack collects
// envelopes, shard splits packs for the stores, indexkey records where
// everything is.
//
// # Invariants
//
//   - Every decoder returns errors of one class, [ErrCorrupt], for bytes that
//     are not a valid encoding; it never panics and never allocates more than
//     its input justifies. Unknown versions are [ErrVersion] (also corrupt).
//   - Encodings are canonical: decoding then re-encoding gives the same bytes,
//     so IDs derived from bytes are stable. The fuzz targets in package fuzz
//     check both properties.
//   - Golden vectors in format/testdata pin every format; a change that
//     alters bytes fails their tests until SPEC.md and the vectors change
//     together.
package format
