package backend

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
)

// maxPrealloc bounds the buffer ReadAll allocates before seeing any data.
const maxPrealloc = 64 << 20

// ReadAll reads length bytes of the object from offset (length < 0: to the
// end). For length >= 0 it checks that it got exactly that many: a store that
// returns fewer or more bytes than asked yields an error wrapping
// [io.ErrUnexpectedEOF].
func ReadAll(ctx context.Context, b Backend, name Name, offset, length int64) ([]byte, error) {
	rc, err := b.Get(ctx, name, offset, length)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if length < 0 {
		data, err := io.ReadAll(rc)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		return data, nil
	}
	// Read one byte more than asked to notice a store that returns too much.
	limit := length
	if limit < math.MaxInt64 {
		limit++
	}
	var buf bytes.Buffer
	buf.Grow(int(min(limit, maxPrealloc)))
	if _, err := buf.ReadFrom(io.LimitReader(rc, limit)); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	data := buf.Bytes()
	if int64(len(data)) != length {
		return nil, fmt.Errorf("read %s at %d: got %d bytes, want %d: %w",
			name, offset, len(data), length, io.ErrUnexpectedEOF)
	}
	return data, nil
}
