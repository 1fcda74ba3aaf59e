//go:build cgo && linux

package mallocarena

/*
#include <malloc.h>
*/
import "C"

import "os"

// Limit caps the allocator at n arenas unless the MALLOC_ARENA_MAX
// environment variable already decides, and reports whether it did. It
// should run early, before many threads have allocated: arenas that exist
// stay.
func Limit(n int) bool {
	if _, ok := os.LookupEnv("MALLOC_ARENA_MAX"); ok {
		return false
	}
	return C.mallopt(C.M_ARENA_MAX, C.int(n)) == 1
}
