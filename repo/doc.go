// Package repo is the Holdfast storage engine: it keeps sealed chunks safe on
// one or more stores and finds them again. It knows nothing of RPC; package
// server wraps it, package gc drives its deletions.
//
// # Chunk
//
// A sealed, client-encrypted piece of file content or of a directory
// listing, named by its keyed BLAKE3 ID (package format/seal). The engine
// never sees plaintext.
//
// # Pack
//
// Many chunk envelopes written once into one object of 16–64 MiB with a
// trailer that indexes them (package format/pack), so the index can always
// be rebuilt from the packs.
//
// # Shard
//
// Each pack is Reed-Solomon coded into k data and m parity shards (package
// format/shard); every shard is its own object on its own store where there
// are enough stores. Reads take byte ranges straight from data shards and
// rebuild from any k shards when one is missing or damaged.
//
// # Index
//
// An embedded Pebble database (keys in package format/indexkey) maps chunk →
// pack location, pack → shards, and holds snapshots, locks, sessions and
// hashed tokens. Everything but tokens can be rebuilt from the stores.
//
// # Lock
//
// A snapshot's retention lock until a date, governance (admins may lift it)
// or compliance (nobody may, until it expires): an index record plus a lock
// object on the stores, and S3 Object Lock retention on what the snapshot
// uses where the store supports it (lock*.go, SPEC.md §13.2).
//
// # Ordering
//
// Shards are durable before the index batch that points at them commits: a
// crash in between leaves orphan shards, which garbage collection removes;
// the index never points at missing data.
//
// See SPEC.md §8–§11 and §13.
package repo
