//go:build !linux

package index

// adviseHugePages does nothing where transparent huge pages are not
// Linux's: the memory is the same, only slower to probe.
func adviseHugePages([]byte) {}
