package seal

import (
	"fmt"
	"slices"

	"github.com/klauspost/compress/s2"

	"github.com/holdfast-backup/holdfast/format"
)

// decompressS2 appends the content of the S2 block in payload to dst. The
// block starts with its decoded length (a uvarint), which is checked
// against format.MaxChunkSize before anything is allocated; the decoder
// then writes exactly that many bytes into dst's spare capacity and fails
// unless the block's operations produce exactly them and consume every
// byte of payload.
func decompressS2(dst, payload []byte) ([]byte, error) {
	n, err := s2.DecodedLen(payload)
	if err != nil {
		return nil, fmt.Errorf("s2 block header: %w", err)
	}
	if n > format.MaxChunkSize {
		return nil, fmt.Errorf("s2 block declares %d bytes, limit %d", n, format.MaxChunkSize)
	}
	dst = slices.Grow(dst, n)
	tail := dst[len(dst) : len(dst)+n]
	out, err := s2.Decode(tail, payload)
	if err != nil {
		return nil, fmt.Errorf("s2 block: %w", err)
	}
	if len(out) != n || (n > 0 && &out[0] != &tail[0]) {
		// Decode writes into a buffer of the declared length; anything
		// else means the library changed under us.
		return nil, fmt.Errorf("s2 block: decoder returned %d bytes elsewhere", len(out))
	}
	return dst[:len(dst)+n], nil
}
