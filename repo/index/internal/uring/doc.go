// Package uring reads many small spans of one file with few system calls.
//
// On a virtual machine a system call is expensive: on the paravirtualized
// hosts this was written for, one pread costs about 3 µs even when the data
// is in the page cache. The chunk-ID presence table reads one 512 B–2 KiB
// span per ID, and a batch asks about thousands of IDs, so a pread per span
// spends most of its time entering and leaving the kernel. A Reader instead
// queues the reads on a Linux io_uring and hands the kernel a whole group
// of them with one io_uring_enter, which both submits them and waits for
// their completions; reads served from the page cache complete inside that
// call.
//
// The ring is set up with raw system calls (io_uring_setup, mmap of the
// rings, io_uring_enter) because the project takes no dependency beyond
// golang.org/x/sys. A Reader falls back to one pread per read when io_uring
// cannot be used: kernels without it or older than 5.6 (no IORING_OP_READ),
// io_uring disabled by sysctl or refused by a seccomp profile (Docker's
// default answers EPERM), any setup failure, and systems other than Linux.
// If the ring fails during a batch, the Reader switches to pread for good
// and finishes the batch that way, so every read is always answered.
//
// The package builds on Unix systems only.
package uring
