// Package wire holds the byte-level primitives that every Holdfast format is
// built from, so that all decoders bound-check the same way and all report
// damage as format.ErrCorrupt.
//
// Conventions (SPEC.md §2): fixed-width integers are big-endian; variable
// integers are unsigned LEB128 (encoding/binary Uvarint) in their shortest
// form; signed ones are zig-zag (binary.Varint); byte strings are a uvarint
// length followed by the bytes. Decoders reject non-minimal varints so that
// every value has exactly one encoding, which keeps content-derived IDs
// stable.
package wire
