//go:build !cgo || !linux

package mallocarena

// Limit does nothing without cgo on Linux: Pebble then allocates from the
// Go heap, and no C allocator's arenas hold its memory.
func Limit(n int) bool { return false }
