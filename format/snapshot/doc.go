// Package snapshot encodes a snapshot's clear-text header, computes its ID
// and MAC, and streams its reference list.
//
// The header is the part of a snapshot the server can read: time, host,
// source, tags, sizes, parent, the chunks of the root tree and a summary of
// the reference list. The server uses it for retention, locks, GC and
// replication; it cannot check the MAC (keyed BLAKE3 with the repository's
// MAC key, which only clients hold), and clients check it before trusting a
// header. The snapshot ID is the unkeyed BLAKE3-256 of the whole encoding,
// MAC included, so replication, which copies the bytes, keeps the ID.
//
// Header layout (SPEC.md, "Snapshots"): magic "HFSN", version 1, then time
// (varint), host, source kind, source name, labels, tags, paths, parent (32),
// root extents (package tree's extent encoding), size, files, dirs, bytes
// added, client version, reference count, references hash (32) and last the
// 32-byte MAC over every byte before it.
//
// Reference list layout: magic "HFRL", version 1, count (u64 big-endian),
// count strictly ascending 32-byte chunk IDs, then the BLAKE3-256 of every
// byte before it. That trailing checksum is the header's RefsHash. Lists of
// millions of IDs stream through RefWriter and RefReader in bounded memory.
//
// Neighbours: package tree (the Root extents), package keys (the MAC key),
// the repo/snapshot store (which checks RefCount and RefsHash on commit).
package snapshot
