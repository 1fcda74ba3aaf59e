// Package hugeheap makes a large heap allocation that is about to happen
// likely to be backed by transparent huge pages.
//
// The client's key unwrap (Argon2id, 64 MiB by default) allocates its
// memory inside golang.org/x/crypto/argon2, touches every page of it once
// and drops it. On the virtual machines this project runs on, a page
// fault costs microseconds, and the 16,384 faults of 64 MiB in 4 KiB pages
// were half the unwrap: 190–220 ms against 80–100 ms with 2 MiB pages.
// The Go runtime does not ask for huge pages, and where the system's
// transparent huge pages are set to "madvise" (the common default) it
// gets none.
//
// [Prepare] cannot hand the allocation a buffer, so it arranges the heap
// instead: it allocates (without touching) a span a little larger than
// the one to come, advises huge pages over it with madvise(2), and frees
// it with a collection. The runtime places a large allocation in the
// lowest free range that fits, which is now that span, and the advice
// stays with the addresses. When the placement goes otherwise, nothing is
// lost but the speed-up: the allocation is served as it would have been.
package hugeheap
