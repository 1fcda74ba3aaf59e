// Package envbuf keeps envelope-sized buffers for reuse, in size classes.
//
// The server reads tens of thousands of envelopes per restore stream and
// receives as many per upload stream. A fresh buffer for each cost it a
// zeroing pass or page faults over every byte (on this project's virtual
// machines, memory allocated anew is faulted in again page by page) plus
// the garbage collection after. A buffer goes back once its envelope has
// been sent (restore) or copied into the open pack (upload).
//
// The classes are the powers of two from 16 KiB and the midpoints between
// them, up to format.MaxEnvelopeSize, so a buffer is at most half again the
// envelope it holds: the old classes, four times apart, made the restore of
// a 1.2 MiB envelope take a 4 MiB buffer. Free buffers are kept across
// garbage collections, up to 8 MiB in all, until a minute passes without
// one coming back.
package envbuf
