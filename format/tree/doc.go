// Package tree encodes the plaintext listing of one directory: its entries'
// names, types, ownership, times, xattrs and the chunks that hold each
// file's content or each subdirectory's own tree.
//
// The client encodes a directory with an Encoder, cuts the bytes with the
// content-defined chunker and seals each piece as a `tree` chunk (package
// seal); the parent directory's entry (or the snapshot header's Root, package
// snapshot) lists those chunks as its Subtree extents. This package sees only
// plaintext and does no I/O beyond the io.Reader/io.Writer it is given.
//
// Layout (all of it in SPEC.md, "Trees"):
//
//	offset  size  field
//	0       4     magic "HFTR"
//	4       1     version 1
//	5       var   entries: uvarint L (1..16 MiB), then an L-byte entry body,
//	              strictly ascending by name bytes
//	.       1     end marker 0x00
//	.       var   uvarint number of entries
//	.       32    BLAKE3-256 of every byte before it
//
// An entry body is every Entry field in a fixed order, always present:
// name, type, mode, uid, gid, user, group, mtime, atime, ctime, size, inode,
// device, links, hardlink group, rdev major, rdev minor, link target, xattrs,
// content extents, subtree extents. An extent is uvarint(Length<<1 | hole),
// then the 32-byte chunk ID unless it is a hole.
//
// The encoding is canonical: one directory has exactly one encoding, and the
// decoder rejects anything else. It also validates every entry (Entry.Validate)
// and every name (CheckName) before returning it, so a tampered tree can never
// name a path outside the directory being restored. The AEAD already
// authenticates each chunk; the trailer catches a chunk list that is
// truncated or reordered.
package tree
