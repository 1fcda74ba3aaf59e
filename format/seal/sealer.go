package seal

import (
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"slices"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/zeebo/blake3"
	"golang.org/x/crypto/chacha20poly1305"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/keys"
)

// Sealer computes chunk IDs and seals and opens chunk envelopes with one
// repository's keys.
//
// A Sealer is safe for concurrent use by multiple goroutines and meant to
// be shared: the AEAD is stateless, and the keyed hashers, zstd encoders,
// zstd decoders and scratch buffers it needs are taken from sync.Pools, so
// N goroutines sealing at once use N of each and never wait on each other.
type Sealer struct {
	aead    cipher.AEAD
	hashers *sync.Pool  // *blake3.Hasher keyed with the ID key
	writes  Compression // what Seal compresses with when it pays
}

// NewSealer returns a Sealer using k.ID for chunk IDs and k.AEAD for
// envelopes. It compresses with zstd; see [Sealer.Compressing].
func NewSealer(k keys.Keys) *Sealer {
	aead, err := chacha20poly1305.NewX(k.AEAD[:])
	if err != nil {
		panic("seal: " + err.Error()) // unreachable: the key size is fixed
	}
	idKey := k.ID
	s := &Sealer{aead: aead, hashers: new(sync.Pool), writes: Zstd}
	s.hashers.New = func() any {
		h, err := blake3.NewKeyed(idKey[:])
		if err != nil {
			panic("seal: " + err.Error()) // unreachable: the key size is fixed
		}
		return h
	}
	return s
}

// Compressing returns a Sealer with the same keys (sharing s's pools) whose
// Seal compresses with c where the policy says it pays: Zstd (the default:
// smaller), S2 (about three times faster, a few percent larger) or None
// (never). Open reads every compression whatever c is.
func (s *Sealer) Compressing(c Compression) (*Sealer, error) {
	if !c.valid() {
		return nil, fmt.Errorf("seal: %v", c)
	}
	return &Sealer{aead: s.aead, hashers: s.hashers, writes: c}, nil
}

// Compression is what Seal compresses with when it pays.
func (s *Sealer) Compression() Compression { return s.writes }

// ID returns the chunk ID of plaintext: BLAKE3-256 keyed with the ID key.
// Equal plaintexts get equal IDs within a repository (that is what
// deduplicates); without the key, an ID reveals nothing about the
// plaintext.
func (s *Sealer) ID(plaintext []byte) format.ID {
	h := s.hashers.Get().(*blake3.Hasher)
	h.Reset()
	_, _ = h.Write(plaintext)
	var id format.ID
	h.Sum(id[:0])
	s.hashers.Put(h)
	return id
}

// policy chooses the compression of a seal; only tests force one.
type policy int

const (
	policyAuto policy = iota // the rule in compress.go, with s.writes
	policyNone
	policyZstd
	policyS2
)

// Seal appends the envelope of plaintext to dst and returns the extended
// slice. id must be s.ID(plaintext): Seal does not recompute it (callers
// already have it, to ask the server whether the chunk is needed), and an
// envelope sealed under the wrong ID will never open. nonce is 24 bytes;
// nil draws a random one from crypto/rand, which is what production code
// must do. plaintext must not overlap dst's spare capacity and may be at
// most format.MaxChunkSize bytes.
//
// Seal compresses (zstd unless [Sealer.Compressing] chose otherwise) when a
// cheap check says it pays (see doc.go).
func (s *Sealer) Seal(dst []byte, t Type, id format.ID, plaintext, nonce []byte) ([]byte, error) {
	return s.seal(dst, t, id, plaintext, nonce, policyAuto)
}

func (s *Sealer) seal(dst []byte, t Type, id format.ID, plaintext, nonce []byte, pol policy) ([]byte, error) {
	if !t.valid() {
		return nil, fmt.Errorf("seal chunk %s: invalid type %d", id.Short(), byte(t))
	}
	if len(plaintext) > format.MaxChunkSize {
		return nil, fmt.Errorf("seal chunk %s: %d bytes exceeds the chunk size limit %d", id.Short(), len(plaintext), format.MaxChunkSize)
	}
	var nb [NonceSize]byte
	switch {
	case nonce == nil:
		if _, err := rand.Read(nb[:]); err != nil {
			return nil, fmt.Errorf("seal chunk %s: nonce: %w", id.Short(), err)
		}
	case len(nonce) != NonceSize:
		return nil, fmt.Errorf("seal chunk %s: nonce is %d bytes, want %d", id.Short(), len(nonce), NonceSize)
	default:
		copy(nb[:], nonce)
	}

	h := Header{Version: Version, Type: t, Compression: None}
	start := len(dst)
	enc := encoders.Get().(*zstd.Encoder)
	defer encoders.Put(enc)
	// Room for the largest outcome up front, so that neither the encoder
	// nor the AEAD reallocates a dst that may already hold a large pack.
	n := len(plaintext)
	dst = slices.Grow(dst, Overhead+max(enc.MaxEncodedSize(n), s2.MaxEncodedLen(n)))
	dst = h.appendTo(dst)
	dst = append(dst, nb[:]...)
	body := len(dst)

	codec, try := s.choose(enc, plaintext, pol)
	if try != skip {
		switch codec {
		case Zstd:
			if try == compressRaw {
				raw := rawEncoders.Get().(*zstd.Encoder)
				defer rawEncoders.Put(raw)
				enc = raw
			}
			dst = enc.EncodeAll(plaintext, dst)
		case S2:
			out := s2.Encode(dst[body:cap(dst)], plaintext)
			dst = dst[:body+len(out)]
		}
		if pol != policyAuto || saves(len(dst)-body, n, keepMinSavingPct) {
			h.Compression = codec
		} else {
			dst = dst[:body]
		}
	}
	dst[start+2] = byte(h.Compression)
	ad := associatedData(h, id)
	if h.Compression != None {
		// Encrypt the compressed bytes in place (exact overlap is allowed).
		return s.aead.Seal(dst[:body], nb[:], dst[body:], ad[:]), nil
	}
	return s.aead.Seal(dst, nb[:], plaintext, ad[:]), nil
}

// choose picks the compression to try for plaintext under pol, and how.
func (s *Sealer) choose(enc *zstd.Encoder, plaintext []byte, pol policy) (Compression, trial) {
	switch pol {
	case policyZstd:
		return Zstd, compress
	case policyS2:
		return S2, compress
	case policyNone:
		return None, skip
	}
	switch s.writes {
	case Zstd:
		return Zstd, worthTrying(enc, plaintext)
	case S2:
		return S2, worthTryingS2(plaintext)
	}
	return None, skip
}

// Open authenticates and decodes envelope, which must be the chunk with ID
// id, appends the plaintext to dst and returns it with the chunk's type.
// It checks, in order: the header (version, type, compression, size), the
// AEAD tag over header, ID and payload, the zstd frame (one frame whose
// declared size is at most format.MaxChunkSize; decoding stops at that
// size, so a zstd bomb cannot make Open allocate much beyond it) or the S2
// block (its declared length at most format.MaxChunkSize, decoded into
// exactly that many bytes), and
// finally that the keyed hash of the plaintext is id. Every failure is a
// format.ErrCorrupt error naming the check. The type it returns is the one
// the chunk was first stored as: the ID covers the plaintext only, so data
// and a tree with the same bytes share one envelope (SPEC.md §5.4).
func (s *Sealer) Open(dst []byte, id format.ID, envelope []byte) ([]byte, Type, error) {
	h, err := ParseHeader(envelope)
	if err != nil {
		return nil, 0, fmt.Errorf("open chunk %s: %w", id.Short(), err)
	}
	nonce := envelope[HeaderSize : HeaderSize+NonceSize]
	box := envelope[HeaderSize+NonceSize:]
	ad := associatedData(h, id)
	start := len(dst)

	switch h.Compression {
	case None:
		if len(box)-TagSize > format.MaxChunkSize {
			return nil, 0, format.Corruptf("open chunk %s: plaintext of %d bytes exceeds limit %d", id.Short(), len(box)-TagSize, format.MaxChunkSize)
		}
		dst, err = s.aead.Open(dst, nonce, box, ad[:])
		if err != nil {
			return nil, 0, authError(id)
		}
	case Zstd, S2:
		bp := getBuffer(&payloads, len(box))
		defer payloads.Put(bp)
		payload, err := s.aead.Open((*bp)[:0], nonce, box, ad[:])
		if err != nil {
			return nil, 0, authError(id)
		}
		decode := decompress
		if h.Compression == S2 {
			decode = decompressS2
		}
		if dst, err = decode(dst, payload); err != nil {
			return nil, 0, format.Corruptf("open chunk %s: decompress: %v", id.Short(), err)
		}
	}
	if got := s.ID(dst[start:]); got != id {
		return nil, 0, format.Corruptf("open chunk %s: plaintext hashes to %s, not the chunk ID", id.Short(), got.Short())
	}
	return dst, h.Type, nil
}

func authError(id format.ID) error {
	return format.Corruptf("open chunk %s: authentication failed (wrong repository key, or envelope damaged or stored under another ID)", id.Short())
}

// decompress appends the content of the single zstd frame in payload to
// dst. It allocates at most the frame's declared size (checkFrame bounds
// it by format.MaxChunkSize) and fails if the frame holds more or less.
func decompress(dst, payload []byte) ([]byte, error) {
	n, err := checkFrame(payload)
	if err != nil {
		return nil, err
	}
	dst = slices.Grow(dst, n)
	// Decode into the spare capacity as a fresh slice: the decoder then
	// applies its limits to this chunk alone, and WithDecodeAllCapLimit
	// stops it at the capacity (a frame that lies about its size costs a
	// reallocation or two inside the decoder before it is refused).
	tail := dst[len(dst) : len(dst) : len(dst)+n]
	dec := decoders.Get().(*zstd.Decoder)
	out, err := dec.DecodeAll(payload, tail)
	decoders.Put(dec)
	if err != nil {
		return nil, err
	}
	if len(out) != n {
		return nil, fmt.Errorf("frame declares %d bytes, holds %d", n, len(out))
	}
	// With the cap limit the decoder wrote into tail; copy only if a
	// future zstd version ever allocates instead.
	if n > 0 && &out[0] != &tail[:1][0] {
		copy(tail[:n], out)
	}
	return dst[:len(dst)+n], nil
}
