// Package index is the server's embedded Pebble index (SPEC.md §11): a typed
// layer over one Pebble database whose keys and values are encoded only by
// package format/indexkey.
//
// # What it holds
//
// Chunk locations, pack records, snapshots, locks, key files, hashed tokens,
// upload sessions and their pins, GC state, the repository registry and the
// index Meta record. Everything but tokens can be rebuilt from the stores.
//
// # Writes
//
// All writes go through a [Batch] and become visible atomically at
// [Batch.Commit]. The engine's ordering rule decides the sync flag: a batch
// that makes data reachable (chunk locations, packs, snapshots) commits with
// sync=true, after the shards it points at are durable on their stores.
//
// # Reads
//
// Typed getters (GetChunk, GetPack, …) return [ErrNotFound] for an absent key.
// Scans (Chunks, Packs, …) take a callback and are bounded by the
// repository's key range ([indexkey.RepoPrefix]), so a scan of one repository
// can never see another's keys. [Index.Missing] is the upload hot path: which
// of a batch of chunk IDs a repository does not hold, answered with one
// iterator walked in key order and Pebble's bloom filters.
//
// # Memory
//
// Resident memory is bounded by the options, not by the number of entries:
// Pebble's cache holds the block cache ([Options.CacheSize]) and at most two
// memtables ([Options.MemTableSize] each), outside the Go heap when built
// with cgo; the presence table's fences and filters stay within
// [Options.PresenceMemory] (outside the Go heap), its file in the page
// cache. Every filter and index block of 10 million chunks fits in the
// default cache; data blocks are read from the OS page cache, which is not
// the process's memory. Two things outside this package decide how much of
// that bound shows up as RSS: without cgo, Pebble allocates its cache on
// the Go heap and the garbage collector lets it double (measured 270 MiB
// instead of 130 at 10 million chunks; under GOMEMLIMIT=230MiB, 227 MiB,
// and holdfastd sets such a soft limit from its cgroup's memory limit);
// with cgo, glibc's per-thread malloc arenas keep freed blocks, which
// holdfastd caps at two arenas (internal/mallocarena; uncapped, the same
// lookups at 10 million chunks peaked at 146 or 210 MiB from run to run).
//
// # Speed
//
// Missing answers from the presence table (presence.go, SPEC.md §11.6)
// once it is built: a Bloom filter probe for most absent IDs and one
// 512-byte read of a sorted, unlinked file for a present one, up to 256
// reads to an io_uring system call (internal/uring). At 10 million
// chunks that is about 0.13 µs for an absent ID and 0.7–0.8 µs for a
// present one on one core (internal/scalebench), against 1 µs and 9 µs
// through Pebble, where a present ID costs a block load whose pread alone
// is 3 µs on a virtual machine. The table keeps 1.75 bytes a chunk in
// memory, within a fixed bound (Options.PresenceMemory), and Pebble
// stays the truth: the table is rebuilt from it and never answers
// "present" for a chunk Pebble does not hold.
//
// # Neighbours
//
// Package repo is the only user; it commits index batches after the shards
// are durable (package repo/backend). Keys and values come from
// format/indexkey; a value that does not decode is reported as
// [format.ErrCorrupt] naming the key ([indexkey.Describe]).
package index
