// Command scalebench measures the index at scale: insert rate, Missing
// rate on one core, resident memory and disk size. It is the measurement
// behind the numbers in package index's documentation.
//
//	nice go run ./repo/index/internal/scalebench -n 10000000
//
// It inserts n chunk locations with random IDs in synced batches of
// -batch, lets Pebble flush and compact as it decides, then runs -rounds
// Missing calls of -batch random IDs, half present, with GOMAXPROCS=1. A
// sampler reads VmRSS from /proc/self/status every 500 ms; the peak is
// reported per phase, together with getrusage's Maxrss at the end. With
// -refs P it also looks up a sorted P% sample of the stored IDs in
// ascending batches, the way a commit checks its reference list.
package main
