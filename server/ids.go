package server

import (
	"fmt"

	"github.com/holdfast-backup/holdfast/format"
)

// Request limits on ID lists. They bound what one message makes the server
// allocate and look up; clients batch (SPEC.md §12).
const (
	// MaxFilterIDs is the most chunk IDs one FilterMissing call may ask about.
	MaxFilterIDs = 10000
	// MaxReadIDs is the most chunk IDs one ReadChunks call may ask for.
	MaxReadIDs = 100000
	// RefsBatchIDs is how many IDs ReadRefs puts in one message (about
	// 340 KB, far below MaxMessageBytes).
	RefsBatchIDs = 10000
)

// parseID converts a 32-byte ID field; what names the field in the error.
func parseID(b []byte, what string) (format.ID, error) {
	if len(b) != format.IDSize {
		return format.ID{}, fmt.Errorf("%w: %s must be %d bytes, got %d", errBadRequest, what, format.IDSize, len(b))
	}
	return format.ID(b), nil
}

// parseIDs converts a list of at most max 32-byte IDs.
func parseIDs(bs [][]byte, max int, what string) ([]format.ID, error) {
	if len(bs) > max {
		return nil, fmt.Errorf("%w: %d %s in one request, at most %d", errBadRequest, len(bs), what, max)
	}
	ids := make([]format.ID, len(bs))
	for i, b := range bs {
		id, err := parseID(b, fmt.Sprintf("%s[%d]", what, i))
		if err != nil {
			return nil, err
		}
		ids[i] = id
	}
	return ids, nil
}
