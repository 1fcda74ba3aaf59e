// Package cputime reports the CPU time of this process, for benchmarks
// that report CPU per operation next to wall time: on a loaded 2-core
// machine where client and server share the cores, CPU time per byte is
// steadier than wall time.
package cputime
