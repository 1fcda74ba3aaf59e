package format

import (
	"encoding/hex"
	"fmt"
)

// IDSize is the size in bytes of every Holdfast identifier: chunk IDs,
// pack IDs and snapshot IDs are all 256-bit BLAKE3 outputs.
const IDSize = 32

// ID is a 256-bit identifier. Chunk IDs are keyed BLAKE3 of the chunk's
// plaintext (see package seal); pack and snapshot IDs are unkeyed BLAKE3 of
// the encoded object. The zero ID means "none" wherever an ID is optional.
type ID [IDSize]byte

// String returns the 64-digit lower-case hex form.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// Short returns the first 8 hex digits, for logs and messages.
func (id ID) Short() string { return hex.EncodeToString(id[:4]) }

// IsZero reports whether id is the zero ID.
func (id ID) IsZero() bool { return id == ID{} }

// MarshalText implements encoding.TextMarshaler (hex), so IDs print well in JSON.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ID) UnmarshalText(b []byte) error {
	parsed, err := ParseID(string(b))
	if err != nil {
		return err
	}
	*id = parsed
	return nil
}

// ParseID parses the 64-digit hex form of an ID.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*IDSize {
		return id, fmt.Errorf("parse ID: want %d hex digits, got %d", 2*IDSize, len(s))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("parse ID: not hex: %q", s)
	}
	return id, nil
}

// IDFromBytes copies b into an ID; b must be exactly IDSize bytes.
func IDFromBytes(b []byte) (ID, error) {
	var id ID
	if len(b) != IDSize {
		return id, fmt.Errorf("ID: want %d bytes, got %d", IDSize, len(b))
	}
	copy(id[:], b)
	return id, nil
}

// Compare orders IDs bytewise; it returns -1, 0 or +1.
func (id ID) Compare(other ID) int {
	for i := range id {
		if id[i] != other[i] {
			if id[i] < other[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}
