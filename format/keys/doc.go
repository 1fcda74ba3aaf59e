// Package keys holds a repository's key hierarchy and the key file that
// protects it with a password. All of it lives in the client: the server
// stores key files as opaque blobs and never sees a key or a password.
//
// # Hierarchy
//
// A [Master] is 32 random bytes plus the repository's fixed parameters (its
// random 16-byte ID and the chunker parameters). [Master.Derive] turns the
// master key into four independent working [Keys] with BLAKE3's derive_key
// mode, one context string per purpose:
//
//	ID    "holdfast 2026-11-22 chunk id"       keyed BLAKE3-256 chunk IDs (package seal)
//	AEAD  "holdfast 2026-11-22 chunk aead"     XChaCha20-Poly1305 chunk envelopes (package seal)
//	MAC   "holdfast 2026-11-22 snapshot mac"   snapshot header authentication
//	Gear  "holdfast 2026-11-22 chunker gear"   chunker gear table seed
//
// # Key file
//
// A key file ("HFKF", version 1) wraps one Master under a key-encryption key
// (KEK) derived from a password with Argon2id. A repository may have several
// key files, one per user or password; they all wrap the same Master.
//
//	offset  size  field
//	0       4     magic "HFKF"
//	4       1     version (1)
//	5       1     KDF ID (1 = Argon2id)
//	6       4     Argon2 time (passes), u32 big-endian
//	10      4     Argon2 memory in KiB, u32
//	14      1     Argon2 threads (lanes)
//	15      16    salt
//	31      24    nonce (XChaCha20-Poly1305)
//	55      8     created, Unix seconds, u64
//	63      1..2  label length, uvarint (<= 256)
//	...     n     label, UTF-8 ("alice@laptop")
//	...     77    sealed payload: 61-byte plaintext + 16-byte tag
//
// KEK = Argon2id(password, salt, time, memory, threads, 32 bytes). The
// payload is sealed with XChaCha20-Poly1305 under the KEK and the nonce,
// with every header byte before it as associated data, so the clear header
// cannot be altered without the password. Payload plaintext: version (1),
// master key (32), repository ID (16), chunker Min, Avg, Max (u32 each).
//
// # What a reader checks
//
// Structure and bounds first, before any expensive work: magic, version,
// KDF ID, KDF bounds ([KDFParams.Validate]: memory <= 1 GiB, time <= 64,
// 1..64 threads), label length and UTF-8, exact total length. Failures are
// format.ErrCorrupt. Only then does [Unwrap] run Argon2id and open the
// payload; a tag mismatch is [ErrWrongPassword]. The decoded chunker
// parameters must pass chunker.Params.Validate (else corrupt).
//
// Neighbours: package seal and the chunker consume [Keys]; the client
// stores and fetches key files through the repository API. Full
// specification: SPEC.md, section "Keys and key files".
package keys
