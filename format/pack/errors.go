package pack

import "errors"

// Errors returned by [Builder] and [Writer]. They describe misuse by the
// caller, never damaged data (that is format.ErrCorrupt). Each one is sticky:
// the builder refuses every later call until Reset, so a caller that ignores
// a failed Add can never finish a pack that silently lacks a record it
// believes it added.
var (
	// ErrDuplicate: Add was given a chunk ID already in this pack. A pack
	// holds each chunk at most once; check with Has first.
	ErrDuplicate = errors.New("pack: chunk already in pack")

	// ErrEnvelopeSize: Add was given an empty envelope or one larger than
	// format.MaxEnvelopeSize.
	ErrEnvelopeSize = errors.New("pack: envelope size out of range")

	// ErrFull: the record would make the pack exceed format.MaxPackSize.
	// Callers seal packs at their target size, far below that, by watching
	// Len.
	ErrFull = errors.New("pack: pack would exceed maximum size")

	// ErrEmpty: Finish was called before any Add; a pack holds at least
	// one record.
	ErrEmpty = errors.New("pack: no records")

	// ErrFinished: Add or Finish was called after Finish (call Reset to
	// start a new pack).
	ErrFinished = errors.New("pack: already finished")
)
