// Package gogc sets a program's garbage collector target when the user
// has not: both binaries keep most of their live heap in a few large
// buffers kept for reuse, which a collection marks quickly, so collecting
// at a lower target than the runtime's 100 costs little CPU and saves
// much resident memory and many page faults.
package gogc
