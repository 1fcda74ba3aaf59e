// Package mallocarena caps the C allocator's arenas in a program built
// with cgo, where Pebble keeps its block cache and memtables in C memory.
//
// glibc gives each thread that allocates concurrently an arena of its own
// (up to eight per core) and keeps freed blocks in them. The server's
// cache allocations come from whichever threads the Go scheduler runs
// Pebble's goroutines on, so how many arenas hold stale blocks, and so the
// resident memory, varied from run to run: 146 MiB with one arena and
// 210 MiB without a cap for the same index lookups at 10 million chunks
// (repo/index/internal/scalebench). Two arenas keep two cores from
// queueing on one lock while bounding that waste.
package mallocarena
