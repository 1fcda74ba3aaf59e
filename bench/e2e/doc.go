// Package e2e is the end-to-end benchmark suite of issue #8: the real
// holdfastd on loopback and the real holdfast client, both built from this
// module, measured phase by phase on a deterministic data set, next to the
// machine's own limits on the same bytes.
//
// One run:
//
//  1. write the data set (bench/dataset, Config.Size bytes, 2 GiB by
//     default): a source tree, large half-compressible and incompressible
//     files, duplicates, and a database-like file (dataset.WriteDB) of
//     1/32 of the size;
//  2. baselines over the same bytes: blake3.Sum256 on one goroutine with
//     the bytes in memory (dataset.Scan), and, after the phases, a plain
//     copy of the data set (read and write through one buffer, one
//     goroutine, no fsync). Nothing is deleted until every run has ended:
//     on ext4 without a journal, file creation skips inodes deleted in the
//     last minutes one by one, which slowed a restore threefold;
//  3. start holdfastd (one local store, default shards) and set up a
//     repository, then run the phases of the table in phases.go: first
//     backup, unchanged backup, backup after a 1% in-place change
//     (dataset.Mutate on the tree, dataset.MutateDB on the database file),
//     full restore (verified bit for bit), dump to /dev/null, gc after
//     forgetting the older half of the snapshots, and scrub (offline,
//     after stopping the server).
//
// Each phase records wall time, MB/s (10^6 bytes per second of the bytes it
// covers: the data set for backups, restore and dump, the repository's
// stores for gc and scrub), that throughput as a fraction of both
// baselines, bytes uploaded (backups), the stores' size on disk after the
// phase, and the peak RSS (VmHWM) of the client process and of the server.
// A phase whose command this build lacks is reported as not available,
// with no numbers. Several runs give medians by wall time.
//
// [Write] renders a Report as Markdown, JSON and a PNG plot. The command
// is bench/cmd/e2e (make bench-e2e).
package e2e
