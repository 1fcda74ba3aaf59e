// Package freelist keeps values that are expensive to allocate (large
// buffers) for reuse.
//
// Unlike a sync.Pool, a List keeps its values across garbage collections:
// on the virtual machines this project runs on, memory allocated anew is
// memory the process faults in again, 2–10 µs per 4 KiB page, often more
// than the work the buffer serves. Unlike a plain slice, it lets every
// value go once none has come back for a while, so an idle process does
// not hold them.
package freelist
