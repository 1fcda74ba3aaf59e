// Package backend defines the store interface of the storage engine: a flat
// namespace of immutable, named objects (pack shards, manifests, index
// checkpoints) kept in one failure domain such as a local directory or an S3
// bucket and prefix.
//
// # Contract
//
// Every [Backend] provides:
//
//   - Atomic Put: no reader ever observes a partial object. An object is either
//     absent or complete; a failed or interrupted Put leaves the previous state.
//   - Read-after-write: once Put returns nil, Get, Stat and List see the object.
//   - Idempotent Put of identical content. Overwriting with different content
//     is allowed and the last writer wins, but callers only ever write
//     identical content under a name (names are derived from content hashes),
//     so no caller depends on that.
//   - Delete of a missing object is not an error.
//   - Names are checked ([Name.Validate]) before storage is touched.
//
// Objects are never trusted on their own: readers verify what they read
// (shard headers carry a BLAKE3 hash), so a store may lose or damage an object
// but can never make a reader accept wrong bytes.
//
// # Errors
//
// Errors are wrapped with a short operation phrase and the object name, never a
// credential or an absolute path. Test them with [errors.Is] against the
// sentinels in errors.go; a local store also keeps the underlying
// [syscall.Errno] in the chain (errors.Is(err, syscall.ENOSPC) works).
//
// # Implementations
//
// Each store and each decorator lives in its own package: local (a
// directory), s3 (an S3-compatible bucket), mem (in memory, for tests), faulty
// (fault injection, for tests). backendtest is the conformance suite all of
// them pass. Optional capabilities, such as [Retainer] for S3 Object Lock, are
// separate interfaces found with [As], which looks through decorators.
package backend
