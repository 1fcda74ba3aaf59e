// Package lockfile encodes the lock object: the durable, store-side copy of
// a snapshot's retention lock (SPEC.md §13.3). The index keeps the same
// facts as a LockRecord ('l', §11.4); the lock object exists so that
// rebuild-index can restore locks from the stores alone.
//
// Layout, version 1 (all times are zig-zag varint Unix nanoseconds, §2.1):
//
//	offset  size  field
//	0       4     magic "HFLK"
//	4       1     version 1
//	5       32    snapshot ID the lock protects
//	37      1     mode: 1 governance, 2 compliance
//	38      v     until (varint, > 0)
//	.       v     set   (varint, > 0): when the lock was set or last changed
//	.       32    checksum: BLAKE3-256 of every byte before it
//
// The snapshot ID is inside the object, not only in its name, so a copy
// under the wrong name is caught; the checksum catches bit rot on a store
// that has no other integrity check for a small object. The encoding is
// canonical: minimal varints, exact length, so decode then encode gives the
// same bytes (fuzzed in fuzz/lockfile_test.go).
package lockfile
