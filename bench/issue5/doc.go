// Package issue5 runs the throughput scenario of issue #5 against the real
// binaries on loopback, client and server on the same machine:
//
//  1. generate the data set (bench/dataset, 2 GiB by default) and time
//     single-goroutine blake3.Sum256 over its bytes (the baseline);
//  2. start holdfastd on a fresh data directory (one local store, default
//     shards), create a repository, tokens and keys;
//  3. first backup (`holdfast backup DIR --json`): MB/s = data set bytes /
//     wall time of the process;
//  4. the same backup again, nothing changed: bytes_read must be 0 and the
//     time at most 5% of the first;
//  5. dataset.Mutate 1% of the bytes in place, back up again:
//     bytes_uploaded at most 3% of the data set;
//  6. restore the latest snapshot into an empty directory
//     (`holdfast restore latest --target DIR`), verify it bit for bit
//     against the source, MB/s = bytes / wall time;
//
// recording each client command's peak RSS (VmHWM, limit 512 MiB) and the
// server's peak RSS per phase. The page cache is left alone: the data set
// was just written, so backups read it from memory, as the BLAKE3 baseline
// does.
//
// Optionally each phase runs under `perf record` (client and server) for
// CPU profiles. The command is bench/cmd/issue5.
package issue5
