//go:build race

package hugeheap

// raceEnabled: the race detector's runtime places heap allocations
// otherwise, and Advise's span is not where they land.
const raceEnabled = true
