package pack

import (
	"fmt"
	"io"

	"github.com/zeebo/blake3"

	"github.com/holdfast-backup/holdfast/format"
)

// Writer streams a pack to an io.Writer instead of holding it in memory. It
// writes the same bytes as [Builder] for the same Adds. Only the trailer
// entries are kept in memory. Any error, including a write error, is sticky.
// A Writer is not safe for concurrent use.
type Writer struct {
	t       table
	w       io.Writer
	h       *blake3.Hasher
	started bool
}

// NewWriter returns a Writer that writes a pack to w. Nothing is written
// until the first Add.
func NewWriter(w io.Writer) *Writer {
	pw := &Writer{w: w, h: blake3.New()}
	pw.t.reset()
	return pw
}

func (pw *Writer) write(p []byte) error {
	if _, err := pw.w.Write(p); err != nil {
		pw.t.err = fmt.Errorf("pack: write: %w", err)
		return pw.t.err
	}
	pw.h.Write(p)
	return nil
}

func (pw *Writer) start() error {
	if pw.started {
		return nil
	}
	pw.started = true
	return pw.write(AppendHeader(nil))
}

// Add writes one sealed chunk envelope; see [Builder.Add].
func (pw *Writer) Add(id format.ID, envelope []byte) error {
	if err := pw.t.add(id, envelope); err != nil {
		return err
	}
	if err := pw.start(); err != nil {
		return err
	}
	return pw.write(envelope)
}

// Has reports whether id was added.
func (pw *Writer) Has(id format.ID) bool {
	_, ok := pw.t.seen[id]
	return ok
}

// Len returns the length the pack would have if finished now.
func (pw *Writer) Len() int { return pw.t.size() }

// Count returns the number of records added.
func (pw *Writer) Count() int { return len(pw.t.entries) }

// Finish writes the trailer and footer and returns the pack ID and entries.
// The Writer cannot be used afterwards.
func (pw *Writer) Finish() (id format.ID, entries []Entry, err error) {
	tail, err := pw.t.finish(nil)
	if err != nil {
		return id, nil, err
	}
	if err := pw.write(tail); err != nil {
		return id, nil, err
	}
	entries = make([]Entry, len(pw.t.entries))
	copy(entries, pw.t.entries)
	var sum [32]byte
	pw.h.Sum(sum[:0])
	return format.ID(sum), entries, nil
}
