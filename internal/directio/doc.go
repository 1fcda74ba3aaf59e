// Package directio holds what the local store needs to read and write
// files with direct I/O (O_DIRECT on Linux), bypassing the page cache:
// turning it on and off for a descriptor, and buffers whose address is
// aligned as direct I/O requires, kept in free lists. Elsewhere direct I/O
// is reported as unsupported (EINVAL) and callers use the page cache.
package directio
