package shard

import (
	"bytes"
	"fmt"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
	"github.com/holdfast-backup/holdfast/format/internal/wire"
)

// Version is the shard header version this build writes and reads.
const Version = 1

// HeaderSize is the size of the fixed header at the start of every shard
// object; the shard data follows it directly.
const HeaderSize = 4 + 1 + 1 + 1 + 1 + format.IDSize + 8 + 8 + 32 + headerSumSize

const headerSumSize = 8

// MaxShards bounds k+m. Reed-Solomon over GF(2^8) allows 256, but every
// shard of a pack goes to its own store (failure domain), and no deployment
// has more than a few dozen; the bound keeps the index's placement lists
// short, the object names' index at two digits, and the set of decode
// matrices a reader may need small.
const MaxShards = 32

var magic = [4]byte{'H', 'F', 'S', 'H'}

// Header is the decoded header of one shard object. The shard describes
// itself fully: given any k shard objects of a pack, a reader with no index
// can rebuild the pack and check it against its ID.
type Header struct {
	K, M     int       // data and parity shards of the pack
	Index    int       // this shard: 0..K-1 data, K..K+M-1 parity
	Pack     format.ID // pack ID (BLAKE3-256 of the pack bytes)
	PackLen  int64     // pack length in bytes
	DataLen  int64     // shard data length; always ShardSize(PackLen, K)
	DataHash [32]byte  // BLAKE3-256 of the shard data
}

// NewHeader returns the header of shard index of a pack, for shard data
// data (as returned by Split).
func NewHeader(pack format.ID, packLen int64, k, m, index int, data []byte) Header {
	return Header{K: k, M: m, Index: index, Pack: pack, PackLen: packLen,
		DataLen: int64(len(data)), DataHash: blake3.Sum256(data)}
}

func (h Header) validate() error {
	switch {
	case h.K < 1 || h.M < 0 || h.K+h.M > MaxShards:
		return fmt.Errorf("layout %d+%d out of range (1 <= k, 0 <= m, k+m <= %d)", h.K, h.M, MaxShards)
	case h.Index < 0 || h.Index >= h.K+h.M:
		return fmt.Errorf("index %d out of range for %d shards", h.Index, h.K+h.M)
	case h.PackLen < 1 || h.PackLen > format.MaxPackSize:
		return fmt.Errorf("pack length %d out of range", h.PackLen)
	case h.DataLen != ShardSize(h.PackLen, h.K):
		return fmt.Errorf("data length %d, want %d for a %d-byte pack in %d data shards",
			h.DataLen, ShardSize(h.PackLen, h.K), h.PackLen, h.K)
	}
	return nil
}

// EncodeHeader returns the HeaderSize-byte encoding of h. It refuses a
// header that DecodeHeader would reject, so nothing unreadable is written.
func EncodeHeader(h Header) ([]byte, error) {
	if err := h.validate(); err != nil {
		return nil, fmt.Errorf("shard header: %w", err)
	}
	b := make([]byte, 0, HeaderSize)
	b = append(b, magic[:]...)
	b = append(b, Version, byte(h.K), byte(h.M), byte(h.Index))
	b = append(b, h.Pack[:]...)
	b = wire.AppendUint64(b, uint64(h.PackLen))
	b = wire.AppendUint64(b, uint64(h.DataLen))
	b = append(b, h.DataHash[:]...)
	sum := blake3.Sum256(b)
	return append(b, sum[:headerSumSize]...), nil
}

// DecodeHeader decodes and checks the HeaderSize-byte header b of a shard
// object: magic, version, header checksum, and the layout rules. It does
// not check the shard data; see Verify.
func DecodeHeader(b []byte) (Header, error) {
	var h Header
	if len(b) != HeaderSize {
		return h, format.Corruptf("shard header: %d bytes, want %d", len(b), HeaderSize)
	}
	if !bytes.Equal(b[:4], magic[:]) {
		return h, format.Corruptf("shard header: bad magic %q", b[:4])
	}
	if b[4] != Version {
		return h, format.VersionErrorf("shard header", b[4], Version)
	}
	// The checksum comes before any field is trusted: a flipped bit is
	// reported as damage, not as a strange layout.
	sum := blake3.Sum256(b[:HeaderSize-headerSumSize])
	if !bytes.Equal(sum[:headerSumSize], b[HeaderSize-headerSumSize:]) {
		return h, format.Corruptf("shard header: checksum mismatch")
	}
	r := wire.NewReader("shard header", b[5:HeaderSize-headerSumSize])
	h.K = int(r.Byte("k"))
	h.M = int(r.Byte("m"))
	h.Index = int(r.Byte("index"))
	h.Pack = r.ID("pack ID")
	packLen := r.Uint64("pack length")
	dataLen := r.Uint64("data length")
	copy(h.DataHash[:], r.Bytes(32, "data hash"))
	r.ExpectEnd()
	if err := r.Err(); err != nil {
		return Header{}, err
	}
	if packLen > format.MaxPackSize || dataLen > format.MaxPackSize {
		return Header{}, format.Corruptf("shard header: length out of range")
	}
	h.PackLen, h.DataLen = int64(packLen), int64(dataLen)
	if err := h.validate(); err != nil {
		return Header{}, format.Corruptf("shard header: %w", err)
	}
	return h, nil
}

// Verify checks shard data against its header: length and BLAKE3-256.
func Verify(h Header, data []byte) error {
	if int64(len(data)) != h.DataLen {
		return format.Corruptf("shard %s.%02d: %d data bytes, want %d", h.Pack.Short(), h.Index, len(data), h.DataLen)
	}
	if blake3.Sum256(data) != h.DataHash {
		return format.Corruptf("shard %s.%02d: data hash mismatch", h.Pack.Short(), h.Index)
	}
	return nil
}

// DecodeObject decodes a whole shard object held in memory: header, then
// data, verified. The returned data aliases obj.
func DecodeObject(obj []byte) (Header, []byte, error) {
	if len(obj) < HeaderSize {
		return Header{}, nil, format.Corruptf("shard object: %d bytes is shorter than a header", len(obj))
	}
	h, err := DecodeHeader(obj[:HeaderSize])
	if err != nil {
		return Header{}, nil, err
	}
	data := obj[HeaderSize:]
	if err := Verify(h, data); err != nil {
		return Header{}, nil, err
	}
	return h, data, nil
}
