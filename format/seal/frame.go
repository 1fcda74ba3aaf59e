package seal

import (
	"fmt"

	"github.com/klauspost/compress/zstd"

	"github.com/holdfast-backup/holdfast/format"
)

// checkFrame verifies that payload is exactly one zstd frame that declares
// its content size, needs no dictionary and expands to at most
// format.MaxChunkSize bytes, and returns that size. It reads only headers,
// so a decompression bomb is refused before anything is allocated, and the
// caller can decode into a buffer of exactly the declared size.
func checkFrame(payload []byte) (int, error) {
	var h zstd.Header
	if err := h.Decode(payload); err != nil {
		return 0, fmt.Errorf("frame header: %w", err)
	}
	switch {
	case h.Skippable:
		return 0, fmt.Errorf("skippable frame instead of a data frame")
	case !h.HasFCS:
		return 0, fmt.Errorf("frame does not declare its content size")
	case h.FrameContentSize > format.MaxChunkSize:
		return 0, fmt.Errorf("frame content size %d exceeds limit %d", h.FrameContentSize, format.MaxChunkSize)
	case h.DictionaryID != 0:
		return 0, fmt.Errorf("frame needs dictionary %d", h.DictionaryID)
	}
	n, err := frameLen(payload, h.HeaderSize, h.HasCheckSum)
	if err != nil {
		return 0, err
	}
	if n != len(payload) {
		return 0, fmt.Errorf("%d bytes after the frame", len(payload)-n)
	}
	return int(h.FrameContentSize), nil
}

// frameLen walks the block headers of a frame (RFC 8878 §3.1.1.2) after
// its hdrSize-byte header and returns the frame's total length.
func frameLen(b []byte, hdrSize int, checksum bool) (int, error) {
	off := hdrSize
	for {
		if len(b)-off < 3 {
			return 0, fmt.Errorf("truncated block header at offset %d", off)
		}
		bh := int(b[off]) | int(b[off+1])<<8 | int(b[off+2])<<16
		off += 3
		last, typ, size := bh&1 == 1, bh>>1&3, bh>>3
		switch typ {
		case 0, 2: // raw, compressed: size bytes follow
		case 1: // RLE: one byte, repeated size times
			size = 1
		default:
			return 0, fmt.Errorf("reserved block type at offset %d", off-3)
		}
		if len(b)-off < size {
			return 0, fmt.Errorf("truncated block at offset %d", off)
		}
		off += size
		if last {
			break
		}
	}
	if checksum {
		if len(b)-off < 4 {
			return 0, fmt.Errorf("truncated content checksum")
		}
		off += 4
	}
	return off, nil
}
