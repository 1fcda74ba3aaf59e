// Package indexkey is the one place that encodes the keys and values of the
// server's Pebble index (SPEC.md §11). Everything else goes through its typed
// functions, so the key layout can be read, reviewed and changed here alone.
//
// # Keys
//
// A key is one keyspace byte followed by big-endian fixed-width fields, so
// byte order is the natural order of the fields. Per-repository keyspaces
// put the repository's numeric ID (u32, never 0) right after the keyspace
// byte: one repository's keys of one kind form a contiguous range
// ([RepoPrefix]), which makes per-repository iteration cheap and tenant
// isolation a matter of iterator bounds.
//
//	space  key fields (after the space byte)     size  value
//	'm'    -                                      1     Meta
//	'r'    repo name (1..63 bytes)                2-64  RepoRecord
//	'R'    repo u32                               5     repo name
//	'c'    repo u32, chunk ID (32)                37    ChunkLoc
//	'p'    repo u32, pack ID (32)                 37    PackRecord
//	's'    repo u32, snapshot ID (32)             37    SnapshotRecord
//	'l'    repo u32, snapshot ID (32)             37    LockRecord
//	'k'    repo u32, key file ID (32)             37    key file blob
//	't'    token hash (32)                        33    TokenRecord
//	'u'    repo u32, session ID (16)              21    SessionRecord
//	'n'    repo u32, session ID (16), chunk (32)  53    pin (version byte only)
//	'g'    repo u32                               5     GCState
//
// # Values
//
// Every value starts with a version byte (1); an unknown version is reported
// as format.ErrVersion. The fields that follow use the wire conventions:
// minimal uvarints for sizes and counts, zig-zag varints of Unix nanoseconds
// for times (0 = not set), raw bytes for IDs and checksums. Decoders reject
// trailing bytes and apply the same validation as encoders, so anything that
// decodes re-encodes to the same bytes. Byte tables are in SPEC.md §11.
//
// # Neighbours
//
// repo/index (Pebble) is the only user. Chunk locations come from pack
// entries (package pack), pack records describe shards (package shard), and
// everything but tokens can be rebuilt from the stores.
package indexkey
