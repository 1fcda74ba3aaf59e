// Package seal computes chunk IDs and turns chunks into sealed envelopes
// and back. It runs in the client: the server stores envelopes it cannot
// read, and can only look at their 3-byte clear header ([ParseHeader]).
//
// # Chunk ID
//
// ID = BLAKE3-256 keyed with the repository's ID key (keys.Keys.ID) over
// the plaintext. Deduplication works on these IDs across all clients of a
// repository; outsiders learn nothing from them.
//
// # Envelope, version 1
//
// There is no magic: envelopes live inside packs, which have their own.
//
//	offset  size  field
//	0       1     version (1)
//	1       1     type: 1 data, 2 tree
//	2       1     compression: 0 none, 1 zstd, 2 s2
//	3       24    nonce (random)
//	27      n+16  XChaCha20-Poly1305 ciphertext of the payload, then tag
//
// The payload is the plaintext, or its zstd compression: exactly one RFC
// 8878 frame that declares its content size (at most format.MaxChunkSize)
// and needs no dictionary, or its S2 compression: exactly one S2 block
// (klauspost/compress/s2) whose declared length is at most
// format.MaxChunkSize. The AEAD key is keys.Keys.AEAD; the
// associated data is the 3 header bytes followed by the 32-byte chunk ID,
// so a server cannot swap envelopes between IDs or flip the type or the
// compression flag. An envelope is at most format.MaxEnvelopeSize bytes.
//
// XChaCha20-Poly1305 rather than AES-GCM: many clients seal under one key
// with independent random nonces. With GCM's 96-bit nonces the chance of a
// repeat reaches the NIST 2^-32 bound after about 2^32 messages in total,
// a few billion chunks, which a large repository can approach, and one
// repeat leaks the authentication key. 192-bit nonces make random nonces
// safe for any realistic number of chunks, with no coordination.
//
// # Compression decision (writer policy)
//
// Readers accept every choice for any chunk. Writers (this package)
// compress with one codec, zstd unless [Sealer.Compressing] says s2 or
// none:
//
//  1. An empty chunk is stored uncompressed.
//  2. A chunk over 64 KiB is sampled first: four 16 KiB pieces at offsets
//     floor(i*(n-16384)/3), i = 0..3, are concatenated and compressed; if
//     that does not save at least 3% (100*c > 97*65536), the chunk is
//     stored uncompressed without compressing it.
//  3. Otherwise the whole chunk is compressed (zstd at the fastest level
//     without checksum, or s2 at its default level) and kept only if it
//     saves at least 1% (100*c <= 99*n).
//
// This keeps the cost of incompressible data (already compressed media,
// encrypted files, VM images of those) to one 64 KiB trial per chunk.
//
// # Opening
//
// [Sealer.Open] checks the header, then the tag, then the zstd frame's
// headers (declared size, single frame) or the S2 block's declared length
// before decompressing into exactly the declared size, and finally recomputes the keyed ID of the plaintext
// and compares it with the ID the chunk was requested under. A zstd bomb
// is refused from its header or stopped at format.MaxChunkSize. Any
// failure is format.ErrCorrupt.
//
// Neighbours: keys provides [keys.Keys]; the client's chunker feeds Seal
// and the uploader ships envelopes; the server's repo/pack stores them. Full
// specification: SPEC.md, section "Chunk envelopes".
package seal
