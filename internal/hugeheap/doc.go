// Package hugeheap asks for transparent huge pages where the Go heap is
// about to put large allocations or grow.
//
// On the virtual machines this project runs on, a page fault costs
// microseconds, and memory a process allocates anew is faulted in 4 KiB
// at a time. The Go runtime does not ask for huge pages, and where the
// system's transparent huge pages are set to "madvise" (the common
// default) it gets none. In the issue 5 benchmark the server took about
// 96,000 faults in a first backup and the client 56,000; the key unwrap
// alone (Argon2id, 64 MiB, allocated inside golang.org/x/crypto/argon2)
// spent half its time in 16,384 of them.
//
// [Advise] cannot hand the runtime memory, so it arranges the heap: it
// allocates (without touching) a span of the given size, advises huge
// pages over it with madvise(2), and frees it. The runtime places
// allocations in the lowest free addresses that fit, which is now that
// span, and the advice stays with the addresses. When placement goes
// otherwise, nothing is lost but the speed-up. [AdviseHeap] does this for
// the range the heap will grow into, at a program's start, and withdraws
// the advice while the program idles (see there why).
//
// HOLDFAST_HUGE_PAGES=off turns it off (SPEC.md, "Huge pages"): a system
// short of free 2 MiB blocks may compact memory at a fault to find one.
package hugeheap
