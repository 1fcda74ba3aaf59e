package pack

import (
	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/internal/wire"
)

// Version is the only pack format version this build writes and reads. It
// appears twice, in the header and in the footer, and both must match.
const Version = 1

// Fixed sizes of the pack's framing (SPEC.md §8).
const (
	// HeaderSize is the size of the header: magic "HFPK", version, and three
	// reserved zero bytes that pad the first record to an 8-byte offset.
	HeaderSize = 8

	// EntrySize is the size of one trailer entry: chunk ID (32), offset
	// (8), length (4), checksum (16).
	EntrySize = format.IDSize + 8 + 4 + ChecksumSize

	// FooterSize is the size of the footer at the very end of a pack:
	// trailer offset (8), entry count (4), trailer hash (32), version (1),
	// magic "HFPF" (4). A reader that knows the pack's length finds the
	// trailer with two range reads: the footer, then the trailer.
	FooterSize = 8 + 4 + 32 + 1 + 4

	// ChecksumSize is the size of a record checksum: a truncated BLAKE3
	// hash, long enough to catch corruption (not an adversary: the pack ID
	// and the shard hashes cover the bytes at full strength).
	ChecksumSize = 16

	// Overhead is the size of a pack beyond its records when it holds no
	// records; every record adds EntrySize more.
	Overhead = HeaderSize + FooterSize

	// MaxEntries bounds the entry count of any pack: even one-byte records
	// cannot fit more into MaxPackSize.
	MaxEntries = (format.MaxPackSize - Overhead) / (EntrySize + 1)
)

// Magic numbers. They differ so that a reader handed the wrong end of an
// object (or a shard instead of a pack) fails on the first check.
var (
	headerMagic = [4]byte{'H', 'F', 'P', 'K'}
	footerMagic = [4]byte{'H', 'F', 'P', 'F'}
)

// Entry describes one record of a pack: a sealed chunk envelope stored at
// [Offset, Offset+Length) of the pack. Checksum lets the server check a
// range read of that one record without reading the whole pack or holding
// any key.
type Entry struct {
	ID       format.ID
	Offset   uint64
	Length   uint32
	Checksum [ChecksumSize]byte
}

// End returns the offset just past the record.
func (e Entry) End() uint64 { return e.Offset + uint64(e.Length) }

// Footer is the decoded fixed-size tail of a pack.
type Footer struct {
	TrailerOffset uint64   // where the trailer starts (== end of the last record)
	Count         uint32   // number of trailer entries (== records)
	TrailerHash   [32]byte // unkeyed BLAKE3-256 of the trailer bytes
}

// TrailerLen returns the size of the trailer the footer describes.
func (f Footer) TrailerLen() int64 { return int64(f.Count) * EntrySize }

// PackLen returns the total pack length the footer implies. The footer
// fixes it exactly, which is what lets a reader reject a pack that was
// truncated or extended.
func (f Footer) PackLen() int64 {
	return int64(f.TrailerOffset) + f.TrailerLen() + FooterSize
}

// ChecksumOf returns the record checksum of an envelope: the first 16 bytes
// of its unkeyed BLAKE3-256.
func ChecksumOf(envelope []byte) [ChecksumSize]byte {
	sum := blake3.Sum256(envelope)
	var c [ChecksumSize]byte
	copy(c[:], sum[:ChecksumSize])
	return c
}

// IDOf returns the pack ID of a complete pack: the unkeyed BLAKE3-256 of all
// its bytes.
func IDOf(data []byte) format.ID { return format.ID(blake3.Sum256(data)) }

// AppendHeader appends the 8-byte pack header.
func AppendHeader(dst []byte) []byte {
	dst = append(dst, headerMagic[:]...)
	return append(dst, Version, 0, 0, 0)
}

// AppendEntry appends the trailer encoding of e.
func AppendEntry(dst []byte, e Entry) []byte {
	dst = append(dst, e.ID[:]...)
	dst = wire.AppendUint64(dst, e.Offset)
	dst = wire.AppendUint32(dst, e.Length)
	return append(dst, e.Checksum[:]...)
}

// AppendTrailer appends the trailer encoding of entries, in the given order.
func AppendTrailer(dst []byte, entries []Entry) []byte {
	for _, e := range entries {
		dst = AppendEntry(dst, e)
	}
	return dst
}

// AppendFooter appends the FooterSize-byte encoding of f.
func AppendFooter(dst []byte, f Footer) []byte {
	dst = wire.AppendUint64(dst, f.TrailerOffset)
	dst = wire.AppendUint32(dst, f.Count)
	dst = append(dst, f.TrailerHash[:]...)
	dst = append(dst, Version)
	return append(dst, footerMagic[:]...)
}

// footerFor builds the footer of a trailer that starts at off.
func footerFor(off uint64, count int, trailer []byte) Footer {
	return Footer{TrailerOffset: off, Count: uint32(count), TrailerHash: blake3.Sum256(trailer)}
}
