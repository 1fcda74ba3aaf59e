package tree

import (
	"bytes"
	"testing"

	"github.com/holdfast-backup/holdfast/format"
)

// TestEncodedSizeMatchesTheLimit: EncodedSize is the size the encoder
// checks, so an entry just within MaxEntrySize encodes and one extent more
// is refused, at the real limit (about 400,000 data extents).
func TestEncodedSizeMatchesTheLimit(t *testing.T) {
	e := Entry{Name: "huge.img", Type: File, Mode: 0o644}
	one := Extent{ID: format.ID{1}, Length: 1 << 20}
	// Grow to just within the limit.
	per := EncodedSize(&Entry{Name: e.Name, Type: File, Mode: 0o644, Content: []Extent{one, one}}) -
		EncodedSize(&Entry{Name: e.Name, Type: File, Mode: 0o644, Content: []Extent{one}})
	for n := MaxEntrySize / per; ; n++ {
		e.Content = make([]Extent, n)
		for i := range e.Content {
			e.Content[i] = one
		}
		if EncodedSize(&e) > MaxEntrySize {
			break
		}
	}
	over := e
	e.Content = e.Content[:len(e.Content)-1]
	e.Size = uint64(len(e.Content)) << 20
	over.Size = uint64(len(over.Content)) << 20
	if got := EncodedSize(&e); got > MaxEntrySize {
		t.Fatalf("%d bytes for %d extents", got, len(e.Content))
	}
	if _, err := Encode([]Entry{e}); err != nil {
		t.Fatalf("an entry of %d bytes (within the limit): %v", EncodedSize(&e), err)
	}
	if _, err := Encode([]Entry{over}); err == nil || !bytes.Contains([]byte(err.Error()), []byte("exceeds")) {
		t.Fatalf("an entry of %d bytes (over the limit): %v", EncodedSize(&over), err)
	}
	t.Logf("limit: %d data extents of 1 MiB (%d bytes each)", len(e.Content), per)
}
