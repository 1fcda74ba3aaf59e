package pack

import (
	"bytes"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/internal/wire"
)

// CheckHeader verifies the HeaderSize-byte pack header b.
func CheckHeader(b []byte) error {
	r := wire.NewReader("pack header", b)
	magic := r.Bytes(4, "magic")
	version := r.Byte("version")
	reserved := r.Bytes(3, "reserved")
	r.ExpectEnd()
	if err := r.Err(); err != nil {
		return err
	}
	if !bytes.Equal(magic, headerMagic[:]) {
		return format.Corruptf("pack header: bad magic %q", magic)
	}
	if version != Version {
		return format.VersionErrorf("pack header", version, Version)
	}
	if reserved[0]|reserved[1]|reserved[2] != 0 {
		return format.Corruptf("pack header: reserved bytes are not zero")
	}
	return nil
}

// DecodeFooter decodes the last FooterSize bytes of a pack. Besides the
// magic and version it checks that the layout the footer describes is
// possible: at least one record, the trailer after the header, and a total
// length within format.MaxPackSize. The caller must still compare
// Footer.PackLen with the pack's real length (DecodeTrailer does).
func DecodeFooter(b []byte) (Footer, error) {
	var f Footer
	if len(b) != FooterSize {
		return f, format.Corruptf("pack footer: %d bytes, want %d", len(b), FooterSize)
	}
	// Magic and version sit at the very end, so check them before trusting
	// any other field.
	if !bytes.Equal(b[FooterSize-4:], footerMagic[:]) {
		return f, format.Corruptf("pack footer: bad magic %q", b[FooterSize-4:])
	}
	if v := b[FooterSize-5]; v != Version {
		return f, format.VersionErrorf("pack footer", v, Version)
	}
	r := wire.NewReader("pack footer", b[:FooterSize-5])
	f.TrailerOffset = r.Uint64("trailer offset")
	f.Count = r.Uint32("entry count")
	copy(f.TrailerHash[:], r.Bytes(32, "trailer hash"))
	r.ExpectEnd()
	if err := r.Err(); err != nil {
		return Footer{}, err
	}
	if err := f.check(); err != nil {
		return Footer{}, err
	}
	return f, nil
}

// check applies the footer rules that do not need the pack itself.
func (f Footer) check() error {
	switch {
	case f.Count == 0:
		return format.Corruptf("pack footer: no entries")
	case f.Count > MaxEntries:
		return format.Corruptf("pack footer: %d entries exceed limit %d", f.Count, MaxEntries)
	// Each record holds at least one byte.
	case f.TrailerOffset < HeaderSize+uint64(f.Count):
		return format.Corruptf("pack footer: trailer offset %d too small for %d records", f.TrailerOffset, f.Count)
	case f.TrailerOffset > format.MaxPackSize || f.PackLen() > format.MaxPackSize:
		return format.Corruptf("pack footer: pack length exceeds limit %d", format.MaxPackSize)
	}
	return nil
}

// DecodeTrailer decodes and verifies the trailer bytes b of a pack of length
// packLen whose footer is f. It checks the trailer hash, that packLen is the
// length f implies, and that the records tile [HeaderSize, TrailerOffset)
// exactly: sorted by offset, contiguous, non-empty, each at most
// format.MaxEnvelopeSize, and that no chunk ID appears twice.
func DecodeTrailer(b []byte, f Footer, packLen int64) ([]Entry, error) {
	// f normally comes from DecodeFooter; check it again so that this
	// function is safe on its own.
	if err := f.check(); err != nil {
		return nil, err
	}
	if packLen != f.PackLen() {
		return nil, format.Corruptf("pack trailer: pack length %d, footer implies %d", packLen, f.PackLen())
	}
	if int64(len(b)) != f.TrailerLen() {
		return nil, format.Corruptf("pack trailer: %d bytes, footer says %d", len(b), f.TrailerLen())
	}
	if blake3.Sum256(b) != f.TrailerHash {
		return nil, format.Corruptf("pack trailer: hash mismatch")
	}
	r := wire.NewReader("pack trailer", b)
	entries := make([]Entry, f.Count)
	seen := make(map[format.ID]struct{}, f.Count)
	next := uint64(HeaderSize)
	for i := range entries {
		e := &entries[i]
		e.ID = r.ID("chunk ID")
		e.Offset = r.Uint64("offset")
		e.Length = r.Uint32("length")
		copy(e.Checksum[:], r.Bytes(ChecksumSize, "checksum"))
		if err := r.Err(); err != nil {
			return nil, err
		}
		switch {
		case e.Offset != next:
			return nil, format.Corruptf("pack trailer: entry %d: offset %d, want %d", i, e.Offset, next)
		case e.Length == 0:
			return nil, format.Corruptf("pack trailer: entry %d: empty record", i)
		case e.Length > format.MaxEnvelopeSize:
			return nil, format.Corruptf("pack trailer: entry %d: length %d exceeds limit %d", i, e.Length, format.MaxEnvelopeSize)
		case e.End() > f.TrailerOffset:
			return nil, format.Corruptf("pack trailer: entry %d: record ends at %d past trailer offset %d", i, e.End(), f.TrailerOffset)
		}
		if _, dup := seen[e.ID]; dup {
			return nil, format.Corruptf("pack trailer: entry %d: chunk %s appears twice", i, e.ID.Short())
		}
		seen[e.ID] = struct{}{}
		next = e.End()
	}
	if next != f.TrailerOffset {
		return nil, format.Corruptf("pack trailer: records end at %d, trailer starts at %d", next, f.TrailerOffset)
	}
	r.ExpectEnd()
	return entries, r.Err()
}

// Parse verifies a whole pack held in memory and returns its entries: the
// header, the footer, the trailer, and every record's checksum. It does not
// compute the pack ID; compare IDOf(data) with the expected ID when the
// caller has one.
func Parse(data []byte) ([]Entry, error) {
	if len(data) < Overhead {
		return nil, format.Corruptf("pack: %d bytes is shorter than header and footer", len(data))
	}
	if err := CheckHeader(data[:HeaderSize]); err != nil {
		return nil, err
	}
	f, err := DecodeFooter(data[len(data)-FooterSize:])
	if err != nil {
		return nil, err
	}
	if f.PackLen() != int64(len(data)) {
		return nil, format.Corruptf("pack: length %d, footer implies %d", len(data), f.PackLen())
	}
	trailer := data[f.TrailerOffset : int64(len(data))-FooterSize]
	entries, err := DecodeTrailer(trailer, f, int64(len(data)))
	if err != nil {
		return nil, err
	}
	for i, e := range entries {
		if err := VerifyRecord(e, data[e.Offset:e.End()]); err != nil {
			return nil, format.Corruptf("pack: record %d: %w", i, err)
		}
	}
	return entries, nil
}

// VerifyRecord checks that envelope is the record e describes: its length
// and its checksum. Use it after a range read of one record.
func VerifyRecord(e Entry, envelope []byte) error {
	if uint64(len(envelope)) != uint64(e.Length) {
		return format.Corruptf("pack record %s: %d bytes, want %d", e.ID.Short(), len(envelope), e.Length)
	}
	if ChecksumOf(envelope) != e.Checksum {
		return format.Corruptf("pack record %s: checksum mismatch", e.ID.Short())
	}
	return nil
}
