package seal

import (
	"fmt"

	"github.com/holdfast-backup/holdfast/format"
)

// Envelope layout constants (SPEC.md, "Chunk envelope").
const (
	Version    = 1  // envelope version this build writes and reads
	HeaderSize = 3  // version, type, compression
	NonceSize  = 24 // XChaCha20-Poly1305 nonce
	TagSize    = 16 // Poly1305 tag

	// Overhead is the size of an envelope minus its (possibly compressed)
	// payload: header, nonce and tag.
	Overhead = HeaderSize + NonceSize + TagSize
)

// Type says what a chunk holds. It is authenticated, so a server cannot
// make a client parse file data as a directory listing or the reverse.
type Type byte

const (
	TypeData Type = 1 // file content
	TypeTree Type = 2 // an encoded directory listing (package tree)
)

func (t Type) valid() bool { return t == TypeData || t == TypeTree }

func (t Type) String() string {
	switch t {
	case TypeData:
		return "data"
	case TypeTree:
		return "tree"
	}
	return fmt.Sprintf("type(%d)", byte(t))
}

// Compression says how the payload inside the AEAD is encoded.
type Compression byte

const (
	None Compression = 0 // payload is the plaintext
	Zstd Compression = 1 // payload is one zstd frame (RFC 8878)
	S2   Compression = 2 // payload is one S2 block (klauspost/compress/s2)
)

func (c Compression) valid() bool { return c == None || c == Zstd || c == S2 }

func (c Compression) String() string {
	switch c {
	case None:
		return "none"
	case Zstd:
		return "zstd"
	case S2:
		return "s2"
	}
	return fmt.Sprintf("compression(%d)", byte(c))
}

// ParseCompression reads a writer's choice as a user names it: "zstd",
// "s2", or "none" (also "off").
func ParseCompression(name string) (Compression, error) {
	switch name {
	case "zstd":
		return Zstd, nil
	case "s2":
		return S2, nil
	case "none", "off":
		return None, nil
	}
	return 0, fmt.Errorf("unknown compression %q (want zstd, s2 or none)", name)
}

// Header is the clear-text start of an envelope. A server may read it
// without keys (for statistics), but may not trust it: it is only
// authenticated when a client opens the envelope.
type Header struct {
	Version     byte
	Type        Type
	Compression Compression
}

// ParseHeader decodes and checks the header of an envelope: version, type
// and compression must be known, and the envelope must be between Overhead
// and format.MaxEnvelopeSize bytes. It needs no key.
func ParseHeader(envelope []byte) (Header, error) {
	if len(envelope) < Overhead {
		return Header{}, format.Corruptf("chunk envelope: %d bytes, shorter than the %d-byte minimum", len(envelope), Overhead)
	}
	if len(envelope) > format.MaxEnvelopeSize {
		return Header{}, format.Corruptf("chunk envelope: %d bytes exceeds limit %d", len(envelope), format.MaxEnvelopeSize)
	}
	h := Header{Version: envelope[0], Type: Type(envelope[1]), Compression: Compression(envelope[2])}
	switch {
	case h.Version != Version:
		return Header{}, format.VersionErrorf("chunk envelope", h.Version, Version)
	case !h.Type.valid():
		return Header{}, format.Corruptf("chunk envelope: unknown type %d", byte(h.Type))
	case !h.Compression.valid():
		return Header{}, format.Corruptf("chunk envelope: unknown compression %d", byte(h.Compression))
	}
	return h, nil
}

// appendTo appends the 3 header bytes.
func (h Header) appendTo(b []byte) []byte {
	return append(b, h.Version, byte(h.Type), byte(h.Compression))
}

// associatedData is what the AEAD authenticates besides the payload: the
// header and the chunk ID. Binding the ID means a server that swaps two
// envelopes (or serves one under another's ID) fails authentication.
func associatedData(h Header, id format.ID) [HeaderSize + format.IDSize]byte {
	var ad [HeaderSize + format.IDSize]byte
	h.appendTo(ad[:0])
	copy(ad[HeaderSize:], id[:])
	return ad
}
