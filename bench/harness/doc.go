// Package harness runs the real holdfastd and holdfast binaries as
// processes on loopback, for benchmarks that must measure what users run:
// it builds both binaries, starts a server on a fresh data directory, sets
// up a repository with tokens and keys, runs client commands, and samples
// each process's peak resident set (VmHWM from /proc/PID/status, which the
// server's phases reset through /proc/PID/clear_refs).
//
// Linux only: RSS comes from /proc. Used by bench/issue5; the issue #8
// suite is meant to build on it.
package harness
