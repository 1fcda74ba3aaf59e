//go:build race

package index_test

// raceEnabled: the race detector makes Pebble allocate block buffers on the
// Go heap, so allocation counts mean nothing.
const raceEnabled = true
