// Command gcbench measures garbage collection (SPEC.md §13.11).
//
// Synthetic scale (two processes, so the GC's peak RSS is its own):
//
//	go run ./gc/internal/gcbench -build -dir /tmp/gc10m -n 10000000
//	go run ./gc/internal/gcbench -gc -dir /tmp/gc10m
//
// -build writes an engine data directory whose index holds n chunk
// entries in n/1000 synthetic pack records (no shard objects: GC deletes
// them tolerantly, a store delete of a missing object succeeds) and 10
// snapshots whose reference lists (real objects on a local store) cover
// about 72% of the chunks: every chunk of 2 packs in 10 is dead, and 1
// chunk in 10 of the others. Chunk IDs carry their number big-endian in
// their first 8 bytes so the builder streams them in order; GC's cost does
// not depend on the IDs' distribution. -gc runs one collection and prints
// the report, wall time and peak RSS (VmHWM).
//
// Real small repository:
//
//	go run ./gc/internal/gcbench -real
//
// writes real packs of random (incompressible) chunks through the engine,
// commits snapshots, forgets some, runs GC and compares the bytes it found
// dead with the bytes the stores really gave back.
package main
